-- The job queue's claim: at most one job per site waits in the queue. `queued_job` is that
-- job's id in the queue, `queued_for` when it is due (Unix milliseconds); NULL: none waits.
-- A job clears both when it starts, so what it runs sees every change made before.

ALTER TABLE sites ADD COLUMN queued_job TEXT;
ALTER TABLE sites ADD COLUMN queued_for BIGINT;
