/**
 * Click labels and click behaviours, from the canonical `events` table.
 *
 * - An impression's label is its own click flag when the file gives one; otherwise 1 when a click
 *   event was matched to it.
 * - A click event is matched to at most one impression: the latest impression of the same user
 *   and item that precedes it in (time, file order), at most `clickWindowSeconds` earlier, and of
 *   the same request when both name one.
 * - The user's clicks (what histories are made of) are the click events, plus the impressions
 *   flagged as clicked that no click event was matched to (so one click never counts twice).
 *
 * Result: table `labelled` (seq, user_id, item_id, ts, is_imp, label, is_click, p_true),
 * impressions and click events only; `seq` is the event's file order; p_true is the impression's
 * true click probability where the data has one (oracle metrics only), else NULL.
 */
import { Duck } from './duck.js';

export async function labelEvents(duck: Duck, clickWindowSeconds: number): Promise<void> {
  const window = Number(clickWindowSeconds);
  if (!Number.isFinite(window) || window < 0) throw new RangeError(`clickWindowSeconds must be a non-negative number, got ${clickWindowSeconds}`);
  await duck.run(`CREATE OR REPLACE TABLE click_match AS
    SELECT c.seq AS click_seq, e.seq AS imp_seq
    FROM events c JOIN events e ON c.user_id = e.user_id AND c.item_id = e.item_id
    WHERE c.type = 'click' AND e.type = 'impression'
      AND (e.ts < c.ts OR (e.ts = c.ts AND e.seq < c.seq))
      AND c.ts - e.ts <= ${window}
      AND (e.request_id IS NULL OR c.request_id IS NULL OR e.request_id = c.request_id)
    QUALIFY row_number() OVER (PARTITION BY c.seq ORDER BY e.ts DESC, e.seq DESC) = 1`);
  await duck.run(`CREATE OR REPLACE TABLE labelled AS
    SELECT e.seq, e.user_id, e.item_id, e.ts,
      CASE WHEN e.type = 'impression' THEN 1 ELSE 0 END AS is_imp,
      CASE WHEN e.type = 'impression' THEN COALESCE(e.clicked::INTEGER, CASE WHEN m.imp_seq IS NULL THEN 0 ELSE 1 END) ELSE 0 END AS label,
      CASE WHEN e.type = 'click' THEN 1 WHEN e.type = 'impression' AND e.clicked AND m.imp_seq IS NULL THEN 1 ELSE 0 END AS is_click,
      CASE WHEN e.type = 'impression' THEN e.p_true END AS p_true
    FROM events e LEFT JOIN (SELECT DISTINCT imp_seq FROM click_match) m ON m.imp_seq = e.seq
    WHERE e.type IN ('impression', 'click')`);
}
