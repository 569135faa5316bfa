-- Catalyst schema, version 3: stories (grouping articles into events) and auditable tags.
-- See docs/stories.md for the clustering rule and its thresholds.

------------------------------------------------------------------------------
-- Stories: what clustering needs per article, and why each article is in its event
------------------------------------------------------------------------------
CREATE TABLE article_stories (
    article_id          bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    terms               bigint[] NOT NULL,
    entities            text[] NOT NULL DEFAULT '{}',
    reason              text NOT NULL CHECK (reason IN ('new', 'similar', 'split')),
    matched_article_id  bigint REFERENCES articles (id) ON DELETE SET NULL,
    similarity          double precision CHECK (similarity IS NULL OR similarity >= 0),
    assigned_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_stories_matched_idx ON article_stories (matched_article_id);
COMMENT ON TABLE article_stories IS 'Per article: its story features and why it belongs to its event (docs/stories.md).';
COMMENT ON COLUMN article_stories.terms IS 'Sorted 64-bit hashes of the content words of title and summary (stories::terms); Jaccard similarity is computed on these.';
COMMENT ON COLUMN article_stories.entities IS 'Unambiguous token symbols and category keywords tagged in the article; shared ones add a boost to the similarity.';
COMMENT ON COLUMN article_stories.reason IS 'new: no similar article in the window, the article started its event; similar: joined the event of matched_article_id; split: moved by catalyst events split.';
COMMENT ON COLUMN article_stories.matched_article_id IS 'The most similar earlier-stored article, whose event this one joined (reason similar).';
COMMENT ON COLUMN article_stories.similarity IS 'Score with matched_article_id: Jaccard of terms + entity boost - time penalty (docs/stories.md).';
COMMENT ON COLUMN article_stories.assigned_at IS 'When the article was put in its current event.';

CREATE TABLE article_story_bands (
    article_id    bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    band          smallint NOT NULL CHECK (band >= 0),
    band_key      bigint NOT NULL,
    published_at  timestamptz NOT NULL,
    PRIMARY KEY (article_id, band)
);
-- Candidate lookup: same band key within the time window. Cost depends on the bucket,
-- never on the size of the table.
CREATE INDEX article_story_bands_key_idx ON article_story_bands (band_key, published_at);
COMMENT ON TABLE article_story_bands IS 'MinHash LSH band keys of each article: two articles sharing a key are compared (docs/stories.md).';
COMMENT ON COLUMN article_story_bands.band IS 'Band number, 0 to stories::BANDS - 1.';
COMMENT ON COLUMN article_story_bands.band_key IS 'Hash of the band number and the band''s MinHash values.';
COMMENT ON COLUMN article_story_bands.published_at IS 'The article''s publication time, copied so the window filter uses this index alone.';

CREATE TABLE event_splits (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_event_id  bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    to_event_id    bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    article_ids    bigint[] NOT NULL CHECK (cardinality(article_ids) > 0),
    split_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (from_event_id <> to_event_id)
);
CREATE INDEX event_splits_from_idx ON event_splits (from_event_id);
CREATE INDEX event_splits_to_idx ON event_splits (to_event_id);
COMMENT ON TABLE event_splits IS 'Every catalyst events split: which articles left which event for which new one. The two events are kept apart: no later article merges them.';
COMMENT ON COLUMN event_splits.article_ids IS 'The articles moved to to_event_id.';

------------------------------------------------------------------------------
-- Tags: why an ambiguous tag is ambiguous, and the new collision rule
------------------------------------------------------------------------------
ALTER TABLE article_token_tags ADD COLUMN note text;
COMMENT ON COLUMN article_token_tags.note IS 'Why a tag is flagged ambiguous (a ticker shared with other assets and the token not named, an all-capitals headline, a common word), in words shown on the event page.';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['article_stories', 'event_splits']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()',
                       t || '_bump_data_version', t);
    END LOOP;
END $$;

CREATE TABLE tagging_collisions (
    pattern  text PRIMARY KEY CHECK (pattern <> ''),
    note     text NOT NULL CHECK (note <> '')
);
COMMENT ON TABLE tagging_collisions IS 'Tickers shared with other assets or words (GRT, UNI, PAN): a bare match counts only when the text also names the token, otherwise it is flagged ambiguous with the note. From config/tagging.toml [collisions].';
COMMENT ON COLUMN tagging_collisions.note IS 'What the ticker collides with, shown as the reason of a flagged tag.';
