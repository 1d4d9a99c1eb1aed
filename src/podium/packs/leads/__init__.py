"""The leads pack (seed 001, PixelCraft): submit leads from a contact form, analyze them
with a deterministic rubric and the `lead_qualification` agent, and follow up through the
CRM, e-mail and calendar integrations. See docs/packs/leads.md."""
