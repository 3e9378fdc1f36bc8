-- examples/coder_ring/coder_ring.sql
--
-- A coder ring on kz_globals: one owner per ring in the whole cluster hands
-- out short, unique, random-looking codes; callers on any server ask it with
-- kz_globals.call('ring:NAME', ...); standbys on every server take over when
-- the owner dies; every write of the ring's memo is fenced with
-- kz_globals.assert_owner().  In the spirit of Elixir's CoderRing (a
-- permutation of every code kept in a table, walked with Fisher-Yates
-- steps, its position kept in a "memo"), run as a Horde-style singleton.
--
-- Install it into a database where kz_globals exists, on every server that
-- may run the ring, then create each ring on each server with a prefix of
-- its own (see README.md for why):
--
--   psql -v ON_ERROR_STOP=1 -d mydb -f examples/coder_ring/coder_ring.sql
--   SELECT coder_ring.create_ring('orders', prefix => 'B');     -- server 1
--   SELECT coder_ring.create_ring('orders', prefix => 'C');     -- server 2 ...
--   psql -v ON_ERROR_STOP=1 -d mydb -c "CALL coder_ring.serve('orders')"  -- owner or standby
--   SELECT coder_ring_next('orders');                           -- anywhere
--
-- Everything lives in schema coder_ring, except the callers' entry point
-- public.coder_ring_next().  Remove it all with uninstall.sql.

CREATE SCHEMA coder_ring;
COMMENT ON SCHEMA coder_ring IS 'the coder_ring example of kz_globals: a cluster-wide singleton handing out unique codes';

-- ---------------------------------------------------------------------------
-- Codes
-- ---------------------------------------------------------------------------

-- The 32 characters codes are made of: 2-9 and A-Z without I and O, which
-- are easily read as 1 and 0 (CoderRing's choice).  Digit value 0 is '2'.
CREATE FUNCTION coder_ring.alphabet()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';

-- n >= 0 written in base 32 with that alphabet.  With a width, exactly that
-- many characters (leading '2's); without one, no leading '2's and the
-- empty string for 0, so that different numbers never give the same text.
CREATE FUNCTION coder_ring.base32(n bigint, width integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    digits text := '';
    rest   bigint := n;
BEGIN
    IF n < 0 THEN
        RAISE EXCEPTION 'coder_ring.base32: % is negative', n;
    END IF;
    WHILE rest > 0 LOOP
        digits := substr(coder_ring.alphabet(), (rest % 32)::integer + 1, 1) || digits;
        rest := rest / 32;
    END LOOP;
    IF width IS NOT NULL THEN
        IF length(digits) > width THEN
            RAISE EXCEPTION 'coder_ring.base32: % does not fit in % characters', n, width;
        END IF;
        digits := lpad(digits, width, '2');
    END IF;
    RETURN digits;
END
$$;

-- ---------------------------------------------------------------------------
-- Tables.  They are this server's: servers share no storage, only the
-- registry.  See README.md, "Why no code is handed out twice".
-- ---------------------------------------------------------------------------

-- One row per ring this server can serve.
CREATE TABLE coder_ring.rings (
    ring        text PRIMARY KEY CHECK (ring ~ '^[A-Za-z0-9_.-]{1,200}$'),
    -- this server's mark, the first character of every code it hands out:
    -- unique per server for a given ring
    prefix      text NOT NULL CHECK (prefix ~ '^[2-9A-HJ-NP-Z]$'),
    base_length integer NOT NULL CHECK (base_length BETWEEN 1 AND 5),
    size        integer NOT NULL,           -- 32 ^ base_length codes per cycle
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every base code of a ring, one per position 1..size.  A draw swaps two of
-- them (a Fisher-Yates step), so the table is the permutation drawn so far.
CREATE TABLE coder_ring.codes (
    ring text NOT NULL REFERENCES coder_ring.rings ON DELETE CASCADE,
    pos  integer NOT NULL,
    base text NOT NULL,
    PRIMARY KEY (ring, pos)
);

-- The memo: the ring's state.  Positions last_max_pos..size hold the codes
-- of the current cycle already handed out; uniquizer counts finished
-- cycles and becomes part of the codes of the next ones.  The owner reads it
-- once when it takes over, keeps it in variables (as CoderRing's GenServer
-- does) and writes every change through, fenced.  The row is also the
-- ring's lock on this server: the fenced UPDATE of it comes first in every
-- transaction that changes the ring.
CREATE TABLE coder_ring.memos (
    ring         text PRIMARY KEY REFERENCES coder_ring.rings ON DELETE CASCADE,
    last_max_pos integer NOT NULL,
    uniquizer    integer NOT NULL DEFAULT 0,
    token        bigint,                    -- fencing token of the last writer
    owner_pid    integer,                   -- and its backend
    updated_at   timestamptz
);

-- Every code this server's owners handed out, written in the same
-- transaction as the memo and committed before the caller is answered.
-- The primary key is a last line of defence: a duplicate would abort the
-- draw instead of reaching a caller (and is counted in refusals).
CREATE TABLE coder_ring.handed_out (
    ring      text NOT NULL,
    code      text NOT NULL,
    token     bigint NOT NULL,              -- the owner's fencing token
    owner_pid integer NOT NULL,
    caller    text,                         -- node and pid of the caller
    handed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (ring, code)
);

-- Draws that were refused, normally by the fence: an owner that had lost the
-- ring tried to hand out a code and was stopped before it wrote anything.
CREATE TABLE coder_ring.refusals (
    ring       text NOT NULL,
    token      bigint NOT NULL,             -- the refused owner's token
    owner_pid  integer NOT NULL,
    reason     text NOT NULL,               -- 'fenced', 'duplicate' or 'error'
    sqlstate   text NOT NULL,
    message    text,
    refused_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ---------------------------------------------------------------------------
-- Setting up a ring on this server
-- ---------------------------------------------------------------------------

-- Creates ring p_ring here, with this server's prefix (one code character,
-- different on every server that serves this ring) and 32 ^ base_length
-- codes per cycle.  Returns the number of codes per cycle.
CREATE FUNCTION coder_ring.create_ring(ring text, prefix text, base_length integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_size integer := 32 ^ create_ring.base_length;
BEGIN
    INSERT INTO coder_ring.rings (ring, prefix, base_length, size)
    VALUES (create_ring.ring, create_ring.prefix, create_ring.base_length, v_size);
    INSERT INTO coder_ring.codes (ring, pos, base)
    SELECT create_ring.ring, i + 1, coder_ring.base32(i, create_ring.base_length)
    FROM generate_series(0, v_size - 1) AS i;
    -- nothing handed out yet: the first draw uses position size
    INSERT INTO coder_ring.memos (ring, last_max_pos) VALUES (create_ring.ring, v_size + 1);
    RETURN v_size;
END
$$;

-- ---------------------------------------------------------------------------
-- The owner's transactions.  Each one starts with the fenced UPDATE of the
-- memo row:
--
--   UPDATE coder_ring.memos SET ... WHERE ring = $1
--       AND kz_globals.assert_owner('ring:' || $1, $token)
--
-- assert_owner() is VOLATILE, so it is evaluated on the row itself, and
-- evaluated again (EvalPlanQual) if another transaction changed the row
-- meanwhile.  Either the check passes while this owner still owns the ring
-- and the row stays locked until COMMIT (a successor on this server, whose
-- take-over UPDATE of the same row comes after winning, waits for that
-- COMMIT and then reads what it wrote), or the check fails and the error
-- aborts the transaction: nothing of it is written.
-- ---------------------------------------------------------------------------

-- The new owner's first transaction: fence, stamp the memo with its token,
-- and load the state it will keep in variables.
CREATE FUNCTION coder_ring.take_over(p_ring text, p_token bigint,
                                     OUT last_max_pos integer, OUT uniquizer integer)
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE coder_ring.memos AS m
       SET token = p_token, owner_pid = pg_backend_pid(), updated_at = clock_timestamp()
     WHERE m.ring = p_ring
       AND kz_globals.assert_owner('ring:' || p_ring, p_token)
    RETURNING m.last_max_pos, m.uniquizer
         INTO take_over.last_max_pos, take_over.uniquizer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'coder ring "%" is not set up on this server', p_ring
            USING HINT = 'Run SELECT coder_ring.create_ring(ring, prefix) first.';
    END IF;
END
$$;

-- One code: the next Fisher-Yates step from the cached state (p_max_pos,
-- p_uniquizer), written through to the memo, the codes and handed_out, all
-- behind the fence.  Returns the code and the new state; the caller COMMITs.
CREATE FUNCTION coder_ring.draw(p_ring text, p_token bigint,
                                p_max_pos integer, p_uniquizer integer,
                                p_caller text DEFAULT NULL,
                                OUT code text, OUT max_pos integer, OUT uniquizer integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_ring   coder_ring.rings;
    v_r      integer;
    v_at_r   text;
    v_at_max text;
BEGIN
    SELECT * INTO STRICT v_ring FROM coder_ring.rings AS r WHERE r.ring = p_ring;

    -- The next position: one below the last one; a finished cycle starts
    -- over with a new uniquizer (the codes of the next cycle are longer).
    max_pos := p_max_pos - 1;
    uniquizer := p_uniquizer;
    IF max_pos < 1 THEN
        max_pos := v_ring.size;
        uniquizer := uniquizer + 1;
    END IF;

    -- 1. The fence, and the memo written through (see above).
    UPDATE coder_ring.memos AS m
       SET last_max_pos = draw.max_pos, uniquizer = draw.uniquizer,
           token = p_token, owner_pid = pg_backend_pid(), updated_at = clock_timestamp()
     WHERE m.ring = p_ring
       AND kz_globals.assert_owner('ring:' || p_ring, p_token);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'coder ring "%" is not set up on this server', p_ring;
    END IF;

    -- 2. A random position among those not used in this cycle; its code
    --    moves to position max_pos, out of reach of the next draws.
    v_r := 1 + floor(random() * max_pos)::integer;
    SELECT c.base INTO STRICT v_at_r FROM coder_ring.codes AS c
     WHERE c.ring = p_ring AND c.pos = v_r;
    IF v_r <> max_pos THEN
        SELECT c.base INTO STRICT v_at_max FROM coder_ring.codes AS c
         WHERE c.ring = p_ring AND c.pos = draw.max_pos;
        UPDATE coder_ring.codes AS c SET base = v_at_max WHERE c.ring = p_ring AND c.pos = v_r;
        UPDATE coder_ring.codes AS c SET base = v_at_r WHERE c.ring = p_ring AND c.pos = draw.max_pos;
    END IF;

    -- 3. prefix (this server) + uniquizer (cycle, empty in the first) + base
    code := v_ring.prefix || coder_ring.base32(uniquizer) || v_at_r;
    INSERT INTO coder_ring.handed_out (ring, code, token, owner_pid, caller)
    VALUES (p_ring, draw.code, p_token, pg_backend_pid(), p_caller);
END
$$;

-- Does this backend still own the ring with this token?  (assert_owner
-- without the error.)
CREATE FUNCTION coder_ring.owns(p_name text, p_token bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN kz_globals.assert_owner(p_name, p_token);
EXCEPTION
    WHEN object_not_in_prerequisite_state THEN
        RETURN false;
END
$$;

-- ---------------------------------------------------------------------------
-- The service: a standby that becomes the owner, serves, and stands by again
-- if it ever loses the ring.  Run it with CALL, outside a transaction block,
-- in a session that ends when the CALL ends:
--
--   psql -v ON_ERROR_STOP=1 -d mydb -c "CALL coder_ring.serve('orders')"
--
-- (A registration lives as long as its session: a session that stayed
-- connected after an error here would keep the ring registered and answer
-- nobody.)  It returns only when p_stop_after_ms of standing by passed
-- without winning the ring (NULL: never).
-- ---------------------------------------------------------------------------
CREATE PROCEDURE coder_ring.serve(p_ring text, p_stop_after_ms integer DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    v_name     text := 'ring:' || p_ring;
    v_token    bigint;
    v_max_pos  integer;
    v_uniq     integer;
    v_code     text;
    v_new_pos  integer;
    v_new_uniq integer;
    v_refused  text;
    v_state    text;
    v_message  text;
    v_waited   integer;
    m          record;
    -- register_name_wait() runs as one statement and holds a snapshot while
    -- it waits; waiting in slices with a COMMIT in between lets VACUUM go on.
    c_slice_ms constant integer := 10000;
BEGIN
    PERFORM 1 FROM coder_ring.rings WHERE ring = p_ring;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'coder ring "%" is not set up on this server', p_ring
            USING HINT = 'Run SELECT coder_ring.create_ring(ring, prefix) first.';
    END IF;
    -- The memo must be on disk before a caller sees a code (see README.md):
    -- asynchronous commit could lose a memo write whose code was handed out.
    PERFORM set_config('synchronous_commit', 'on', false);
    COMMIT;

    <<terms>>
    LOOP
        -- 1. Stand by until the ring is free anywhere in the cluster, and
        --    claim it.  Of all the standbys of all the servers, one wins.
        PERFORM set_config('application_name', 'coder_ring ' || p_ring || ' standby', false);
        v_waited := 0;
        <<standing_by>>
        LOOP
            v_refused := NULL;
            BEGIN
                EXIT standing_by WHEN kz_globals.register_name_wait(v_name,
                        CASE WHEN p_stop_after_ms IS NULL THEN c_slice_ms
                             ELSE least(c_slice_ms, greatest(p_stop_after_ms - v_waited, 1)) END);
            EXCEPTION
                -- the name fell free while the cluster could not be asked
                -- (broker unreachable, worker restarting): try again soon
                WHEN connection_failure OR object_not_in_prerequisite_state THEN
                    GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
                    v_refused := v_message;
            END;
            IF v_refused IS NOT NULL THEN
                RAISE LOG 'coder ring "%": cannot claim the ring now (%), trying again', p_ring, v_refused;
                PERFORM pg_sleep(1);
            END IF;
            v_waited := v_waited + c_slice_ms;
            COMMIT;
            IF p_stop_after_ms IS NOT NULL AND v_waited >= p_stop_after_ms THEN
                RETURN;
            END IF;
        END LOOP;

        -- 2. Won.  The token identifies this term; take over the memo.
        v_token := kz_globals.token(v_name);
        PERFORM set_config('application_name', 'coder_ring ' || p_ring || ' owner', false);
        v_refused := NULL;
        BEGIN
            SELECT t.last_max_pos, t.uniquizer INTO v_max_pos, v_uniq
              FROM coder_ring.take_over(p_ring, v_token) AS t;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                -- lost the ring again already (a conflict after a partition)
                v_refused := 'fenced';
        END;
        IF v_refused IS NOT NULL THEN
            COMMIT;
            CONTINUE terms;
        END IF;
        RAISE LOG 'coder ring "%": owner with token %, at position % of cycle %',
            p_ring, v_token, v_max_pos, v_uniq;
        COMMIT;

        -- 3. Serve calls until the ring is lost.
        <<serving>>
        LOOP
            SELECT * INTO m FROM kz_globals.receive(1000);
            IF NOT FOUND THEN
                -- idle: still ours?  (An administrator may have unregistered
                -- it; a conflict would also have sent a system message.)
                EXIT serving WHEN NOT coder_ring.owns(v_name, v_token);
                COMMIT;
                CONTINUE serving;
            END IF;

            IF m.kind = 'system' THEN
                EXIT serving WHEN m.message::jsonb ->> 'event' = 'name_lost'
                             AND m.message::jsonb ->> 'name' = v_name;
            ELSIF m.kind = 'call' AND m.message = 'next' THEN
                v_refused := NULL;
                BEGIN
                    SELECT d.code, d.max_pos, d.uniquizer INTO v_code, v_new_pos, v_new_uniq
                      FROM coder_ring.draw(p_ring, v_token, v_max_pos, v_uniq,
                                           m.sender_node || ':' || m.sender_pid) AS d;
                EXCEPTION
                    -- The fence: this backend no longer owns the ring with
                    -- this token.  Everything draw() wrote is rolled back.
                    WHEN object_not_in_prerequisite_state THEN
                        v_refused := 'fenced';
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                    -- The last line of defence; never seen in the tests.
                    WHEN unique_violation THEN
                        v_refused := 'duplicate';
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                    WHEN OTHERS THEN
                        v_refused := 'error';
                        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
                END;

                IF v_refused IS NULL THEN
                    v_max_pos := v_new_pos;
                    v_uniq := v_new_uniq;
                    -- First make the memo durable, then answer: if this
                    -- backend or its server dies between the two, the code
                    -- is lost (never handed out), not handed out twice.
                    COMMIT;
                    PERFORM kz_globals.reply(m.reply_tag, 'code:' || v_code);
                ELSE
                    INSERT INTO coder_ring.refusals (ring, token, owner_pid, reason, sqlstate, message)
                    VALUES (p_ring, v_token, pg_backend_pid(), v_refused, v_state, v_message);
                    COMMIT;
                    RAISE LOG 'coder ring "%": draw refused (%), token %: %',
                        p_ring, v_refused, v_token, v_message;
                    PERFORM kz_globals.reply(m.reply_tag, 'retry:' || v_refused);
                    EXIT serving;
                END IF;
            ELSIF m.kind = 'call' THEN
                PERFORM kz_globals.reply(m.reply_tag, 'error:unknown request');
            END IF;
            COMMIT;
        END LOOP;

        -- 4. Not the owner any more (or unable to serve): step down if the
        --    ring is still ours, tell the callers still queued here to try
        --    again, and stand by.
        IF coder_ring.owns(v_name, v_token) THEN
            PERFORM kz_globals.unregister_name(v_name);
        END IF;
        LOOP
            SELECT * INTO m FROM kz_globals.receive(0);
            EXIT WHEN NOT FOUND;
            IF m.kind = 'call' THEN
                PERFORM kz_globals.reply(m.reply_tag, 'retry:not the owner');
            END IF;
        END LOOP;
        RAISE LOG 'coder ring "%": term with token % is over, standing by', p_ring, v_token;
        COMMIT;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- The callers' side, on any server
-- ---------------------------------------------------------------------------

-- The next code of ring p_ring, from its owner wherever it runs.  While the
-- ring changes hands (no owner for a moment, an owner that died with the
-- call, a deposed owner saying "retry") it tries again, until timeout_ms
-- have passed; then it raises 55000 (object_not_in_prerequisite_state) with
-- the last reason as detail.  A user's cancel or statement_timeout is not
-- retried.
--
-- A retry after a call timed out may leave a code drawn for the first call
-- and never delivered: codes can be lost, never duplicated.
CREATE FUNCTION public.coder_ring_next(ring text, timeout_ms integer DEFAULT 10000)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + timeout_ms * interval '1 ms';
    v_left     integer;
    v_answer   text;
    v_why      text := 'no attempt';
    v_naps     integer := 0;
BEGIN
    LOOP
        v_left := ceil(extract(epoch FROM v_deadline - clock_timestamp()) * 1000)::integer;
        EXIT WHEN v_left <= 0;
        BEGIN
            v_answer := kz_globals.call('ring:' || ring, 'next', least(v_left, 3000));
            IF v_answer LIKE 'code:%' THEN
                RETURN substr(v_answer, 6);
            ELSIF v_answer LIKE 'error:%' THEN
                RAISE EXCEPTION 'coder ring "%": %', ring, substr(v_answer, 7);
            END IF;
            v_why := v_answer;                              -- retry:...
        EXCEPTION
            WHEN undefined_object THEN                      -- no owner right now
                v_why := SQLERRM;
            WHEN object_not_in_prerequisite_state           -- worker restarting
              OR connection_failure THEN                    -- broker unreachable
                v_why := SQLERRM;
            WHEN query_canceled THEN
                -- 57014 is both our call's timeout and a real cancel
                IF SQLERRM NOT LIKE 'call to % timed out after %' THEN
                    RAISE;
                END IF;
                v_why := SQLERRM;
        END;
        -- back off a little: 20, 40, 80, 100, 100 ... ms
        v_naps := v_naps + 1;
        PERFORM pg_sleep(least(0.01 * 2 ^ v_naps, 0.1));
    END LOOP;
    RAISE EXCEPTION 'coder ring "%" gave no code within % ms', ring, timeout_ms
        USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'Last attempt: ' || v_why;
END
$$;
