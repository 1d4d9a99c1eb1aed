"""The events the orchestrator flow emits, one per stage (`orchestrator.*`), in its run's
session: what a client draws the plan from (docs/packs/orchestrator.md)."""

PARSED = "orchestrator.parsed"  # {request, tasks, mode, ambiguous}
CAPABILITIES = "orchestrator.capabilities"  # {capabilities: {task_id: [words]}}
CANDIDATES = "orchestrator.candidates"  # {candidates: {task_id: [{agent, score, …}]}}
RANKED = "orchestrator.ranked"  # {task_agent_pairs, unmatched}
QUESTION = "orchestrator.question"  # {question, reason: ambiguous | no_agent, task_id}
ANSWERED = "orchestrator.answered"  # {question, answer, reason, task_id}
PLANNED = "orchestrator.planned"  # {batches: [[{task_id, task, agent}]]}
BATCH_COMPLETED = "orchestrator.batch.completed"  # {batch, results}
COMPLETED = "orchestrator.completed"  # {final_response, task_agent_pairs}

STAGES = (PARSED, CAPABILITIES, CANDIDATES, RANKED, QUESTION, ANSWERED, PLANNED)
EVENTS = (*STAGES, BATCH_COMPLETED, COMPLETED)
