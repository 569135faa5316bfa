-- Articles stored before stories existed (migration 0003) have no story features, so new
-- articles are never compared with them. `catalyst events backfill-stories` computes
-- them; such rows say so in `reason`.
ALTER TABLE article_stories DROP CONSTRAINT article_stories_reason_check;
ALTER TABLE article_stories ADD CONSTRAINT article_stories_reason_check
    CHECK (reason IN ('new', 'similar', 'split', 'backfill'));
COMMENT ON COLUMN article_stories.reason IS 'new: no similar article in the window, the article started its event; similar: joined the event of matched_article_id; split: moved by catalyst events split; backfill: stored before stories existed, features computed later (its event unchanged).';
