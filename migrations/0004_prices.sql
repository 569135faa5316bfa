-- Prices at production grade: provider ids per token (with renames), the stablecoin flag,
-- and materialised market proxies.

ALTER TABLE tokens ADD COLUMN exclude_from_aggregates boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN tokens.exclude_from_aggregates IS 'True for tokens (stablecoins) that are tracked but never enter category aggregates, the study or the market indices; from config/tokens.toml.';

CREATE TABLE token_provider_ids (
    token_id     integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    provider     text NOT NULL CHECK (provider IN ('binance', 'coingecko')),
    external_id  text NOT NULL CHECK (external_id <> ''),
    valid_from   timestamptz,
    valid_until  timestamptz,
    PRIMARY KEY (token_id, provider, external_id),
    CHECK (valid_until > valid_from)
);
CREATE INDEX token_provider_ids_external_idx ON token_provider_ids (provider, external_id);
COMMENT ON TABLE token_provider_ids IS 'How each provider names a token, and since when: a rename (RNDRUSDT to RENDERUSDT) is two rows with adjacent validity, so bars fetched under the old name land on the same token. From config/tokens.toml.';
COMMENT ON COLUMN token_provider_ids.provider IS 'binance (spot symbol, FETUSDT; also the CSV file stem) or coingecko (coin id, fetch-ai).';
COMMENT ON COLUMN token_provider_ids.external_id IS 'The provider''s symbol or id for the token.';
COMMENT ON COLUMN token_provider_ids.valid_from IS 'First bar open time for which this id holds (NULL: since the beginning).';
COMMENT ON COLUMN token_provider_ids.valid_until IS 'Bar open time from which it no longer holds (exclusive; NULL: still current).';

CREATE TABLE market_proxy_bars (
    proxy       text NOT NULL CHECK (proxy IN ('btc', 'eth', 'ew', 'vw', 'total-cap')),
    interval    text NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    open_time   timestamptz NOT NULL,
    level       double precision NOT NULL CHECK (level > 0),
    ret         double precision,
    n_tokens    integer NOT NULL CHECK (n_tokens >= 0),
    built_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proxy, interval, open_time)
);
COMMENT ON TABLE market_proxy_bars IS 'Materialised market series the study can measure against, rebuilt by `catalyst prices proxies` (see docs/prices.md for how each is built).';
COMMENT ON COLUMN market_proxy_bars.proxy IS 'btc, eth: the coin''s close; ew: equal-weighted index; vw: value-weighted index (market caps); total-cap: sum of tracked market caps.';
COMMENT ON COLUMN market_proxy_bars.level IS 'Close (btc, eth), index level starting at 100 (ew, vw), or USD market cap (total-cap) at the bar''s close.';
COMMENT ON COLUMN market_proxy_bars.ret IS 'Simple return over the bar (close of the previous bar to this close); NULL for the first bar or after a bar without data.';
COMMENT ON COLUMN market_proxy_bars.n_tokens IS 'Tokens that contributed to the bar''s return (1 for btc, eth).';
COMMENT ON COLUMN market_proxy_bars.built_at IS 'When the row was last computed.';

CREATE TRIGGER token_provider_ids_bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON token_provider_ids FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
