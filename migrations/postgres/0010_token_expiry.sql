-- API tokens end: every token from before this migration (kept without an end) now ends 90 days
-- after the upgrade, so nothing breaks at once and nothing stays valid for ever. From here on
-- a token without `expires_at` is refused.
UPDATE web_tokens
   SET expires_at = to_char((now() AT TIME ZONE 'UTC') + interval '90 days', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
 WHERE expires_at IS NULL;
CREATE INDEX web_tokens_user ON web_tokens (user_name);
