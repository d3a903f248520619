/**
 * Labels and behaviours, from the canonical `events` table. Which events are positives (`positive`:
 * clicks unless the spec's label rule names another type) and which feed histories (`in_history`)
 * ingest.ts sets from the spec; an impression's own label (`clicked`) is its clicked column or the
 * label rule's reading of a column.
 *
 * - An impression's label is its own when it has one; otherwise 1 when a positive event was
 *   matched to it.
 * - A positive event is matched to at most one impression: the latest impression of the same user
 *   and item that precedes it in (time, file order), at most `clickWindowSeconds` earlier, and of
 *   the same request when both name one.
 * - The user's behaviours (what histories are made of) are the events of the history types, plus
 *   the impressions labelled positive that no positive event was matched to, when the positive
 *   type is a history type (so one click never counts twice).
 * - A positive event that matched no impression is an unmatched positive (`is_pos`): in a log
 *   without impressions these are the samples negative sampling starts from (samples.ts).
 *
 * Result: table `labelled` (seq, user_id, item_id, ts, is_imp, label, is_pos, is_hist, p_true),
 * impressions, positives and behaviours only; `seq` is the event's file order; p_true is the
 * impression's true click probability where the data has one (oracle metrics only), else NULL.
 */
import { Duck } from './duck.js';

export async function labelEvents(duck: Duck, clickWindowSeconds: number): Promise<void> {
  const window = Number(clickWindowSeconds);
  if (!Number.isFinite(window) || window < 0) throw new RangeError(`clickWindowSeconds must be a non-negative number, got ${clickWindowSeconds}`);
  await duck.run(`CREATE OR REPLACE TABLE click_match AS
    SELECT c.seq AS click_seq, e.seq AS imp_seq
    FROM events c JOIN events e ON c.user_id = e.user_id AND c.item_id = e.item_id
    WHERE c.positive AND e.type = 'impression'
      AND (e.ts < c.ts OR (e.ts = c.ts AND e.seq < c.seq))
      AND c.ts - e.ts <= ${window}
      AND (e.request_id IS NULL OR c.request_id IS NULL OR e.request_id = c.request_id)
    QUALIFY row_number() OVER (PARTITION BY c.seq ORDER BY e.ts DESC, e.seq DESC) = 1`);
  await duck.run(`CREATE OR REPLACE TABLE labelled AS
    SELECT e.seq, e.user_id, e.item_id, e.ts,
      CASE WHEN e.type = 'impression' THEN 1 ELSE 0 END AS is_imp,
      CASE WHEN e.type = 'impression' THEN COALESCE(e.clicked::INTEGER, CASE WHEN m.imp_seq IS NULL THEN 0 ELSE 1 END) ELSE 0 END AS label,
      CASE WHEN e.positive AND e.seq NOT IN (SELECT click_seq FROM click_match) THEN 1 ELSE 0 END AS is_pos,
      CASE WHEN e.type <> 'impression' AND e.in_history THEN 1 WHEN e.type = 'impression' AND e.in_history AND e.clicked AND m.imp_seq IS NULL THEN 1 ELSE 0 END AS is_hist,
      CASE WHEN e.type = 'impression' THEN e.p_true END AS p_true
    FROM events e LEFT JOIN (SELECT DISTINCT imp_seq FROM click_match) m ON m.imp_seq = e.seq
    WHERE e.type = 'impression' OR e.positive OR e.in_history`);
}
