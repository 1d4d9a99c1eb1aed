"""The AppBuilder pack (seed 000, interactive artifacts): five flows whose artifacts a UI
renders and whose buttons drive the journey — AppBuilder, RevenueDashboard,
InvestmentMarketplace, MarketingAutomation (gated on a completed AppBuilder) and
ChallengeTracker. See docs/packs/appbuilder.md."""
