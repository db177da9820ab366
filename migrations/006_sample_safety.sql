-- Samples hold whatever an endpoint sends:
--   input_tokens, output_tokens  64-bit, so no reported count can wrap;
--   usage_estimated              the endpoint's counts were implausible and
--                                were replaced by estimates;
--   output_bytes                 the reply's exact bytes when its text could
--                                not be stored as text (a NUL, invalid
--                                UTF-8): output then holds a cleaned copy;
--   raw_bytes                    the response body's exact bytes when it
--                                could not be stored as jsonb (raw then holds
--                                a cleaned copy, or NULL).

ALTER TABLE samples
    ALTER COLUMN input_tokens TYPE bigint,
    ALTER COLUMN output_tokens TYPE bigint,
    ADD COLUMN usage_estimated boolean NOT NULL DEFAULT false,
    ADD COLUMN output_bytes bytea,
    ADD COLUMN raw_bytes bytea;

---- create above / drop below ----

ALTER TABLE samples
    DROP COLUMN raw_bytes,
    DROP COLUMN output_bytes,
    DROP COLUMN usage_estimated,
    ALTER COLUMN output_tokens TYPE integer USING least(output_tokens, 2147483647)::integer,
    ALTER COLUMN input_tokens TYPE integer USING least(input_tokens, 2147483647)::integer;
