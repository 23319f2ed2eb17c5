//! The message appends of a Postgres store (see the module documentation
//! of [`super`], "Appends").
//!
//! A customer's message goes to one of [`WRITERS`] writer tasks, chosen by
//! its customer, so one customer's messages keep their order. A writer
//! stores whatever is queued when it comes round, up to [`BATCH`]
//! messages, in one transaction, and answers each only after the commit:
//! acknowledged still means committed, and one WAL flush serves the whole
//! batch, as the SQLite writer's one fsync does. The statements of a batch
//! never fail on a unique index in the common case: they check first for a
//! `client_id` stored before and skip a conversation another writer opened
//! (`ON CONFLICT DO NOTHING`). When a batch fails anyway (a race with
//! another server, a deadlock detected by Postgres, a lost connection),
//! nothing of it was committed, and each of its messages is stored again
//! on its own, as before the writers existed.
//!
//! Agents' messages are few; each is one statement, committed on its own.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Acquire as _, Row};
use tokio::sync::{mpsc, oneshot};
use trustchat_protocol::{Author, MessageKind};

use super::rows::{db, message_from_row, MESSAGE_COLUMNS};
use super::webhooks;
use crate::store::{
    kind_str, Appended, MessageRecord, NewAgentMessage, NewCustomerMessage, StoreError,
    StoreResult, UniqueKey,
};
use crate::webhooks::event;

/// How many writer tasks (and connections) a server has for customers'
/// messages.
pub(super) const WRITERS: usize = 4;
/// The most messages one writer stores in one transaction.
const BATCH: usize = 128;
/// How many messages may wait for one writer; more wait for room.
const QUEUE: usize = 4096;

/// How often an append looks again for its conversation when another
/// writer opened one between its two statements. Each retry follows a
/// commit of that other writer, so a second look finds what it opened.
const ATTEMPTS: usize = 4;

/// A message waiting for its writer, and where its outcome goes.
type Job = (NewCustomerMessage, oneshot::Sender<StoreResult<Appended>>);

/// The writers of one server.
#[derive(Debug)]
pub(super) struct Writers {
    queues: Vec<mpsc::Sender<Job>>,
}

impl Writers {
    /// Starts the writers: each takes its connections from `writers` and,
    /// for a batch that failed, from `pool`.
    pub(super) fn start(writers: PgPool, pool: PgPool) -> Arc<Writers> {
        let queues = (0..WRITERS)
            .map(|_| {
                let (send, receive) = mpsc::channel(QUEUE);
                tokio::spawn(write_loop(writers.clone(), pool.clone(), receive));
                send
            })
            .collect();
        Arc::new(Writers { queues })
    }

    /// Stores a customer's message (see
    /// [`crate::store::Store::append_customer_message`]) once its batch
    /// committed.
    pub(super) async fn customer(&self, new: NewCustomerMessage) -> StoreResult<Appended> {
        let queue = &self.queues[shard(&new.customer_id) % self.queues.len()];
        let (send, outcome) = oneshot::channel();
        let stopped = || StoreError::Database("the message writer stopped".into());
        queue.send((new, send)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn shard(key: &str) -> usize {
    key.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(usize::from(byte))
    })
}

/// One writer: a batch per turn, until the store is dropped.
async fn write_loop(writers: PgPool, pool: PgPool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        // One order for every batch, on every server (by customer, then
        // session; a session's own messages keep theirs): two batches lock
        // their conversations in the same order, so they do not deadlock.
        jobs.sort_by(|(a, _), (b, _)| {
            (a.customer_id.as_str(), a.session_id.as_str())
                .cmp(&(b.customer_id.as_str(), b.session_id.as_str()))
        });
        match batch(&writers, &jobs).await {
            Ok(outcomes) => {
                for ((_, answer), outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = answer.send(outcome);
                }
            }
            Err(error) => {
                tracing::debug!(%error, count = jobs.len(), "a batch of messages failed; storing each on its own");
                for (new, answer) in jobs.drain(..) {
                    let _ = answer.send(customer(&pool, &new).await);
                }
            }
        }
    }
}

/// Stores `jobs` in one transaction: each one's outcome, or the error
/// that undid them all.
///
/// Most messages join a conversation that is open: one statement joins
/// them all ([`JOIN_MANY`]). Of the rest, each session's first opens its
/// conversation, all in one statement ([`OPEN_MANY`]), and the messages
/// after it join that in a second [`JOIN_MANY`]. What is still left (a
/// `client_id` stored before, sent twice in the batch, a race with another
/// writer) goes one message at a time, in order, as [`one`] does.
async fn batch(writers: &PgPool, jobs: &[Job]) -> StoreResult<Vec<StoreResult<Appended>>> {
    let mut conn = writers.acquire().await.map_err(db)?;
    let mut tx = conn.begin().await.map_err(db)?;
    let mut outcomes: Vec<Option<StoreResult<Appended>>> = jobs.iter().map(|_| None).collect();
    // A client_id sent twice in one batch: its repeats go last, one by one.
    let mut sent = HashSet::new();
    let (mut pending, repeats): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|&i| sent.insert((&jobs[i].0.customer_id, &jobs[i].0.client_id)));

    for (i, row) in many(&mut tx, JOIN_MANY, jobs, &pending).await? {
        outcomes[i] = Some(appended(&jobs[i].0, &row, false));
    }
    pending.retain(|&i| outcomes[i].is_none());
    let mut sessions = HashSet::new();
    let openers: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| sessions.insert(&jobs[i].0.session_id))
        .collect();
    let mut opened = HashSet::new();
    for (i, row) in many(&mut tx, OPEN_MANY, jobs, &openers).await? {
        opened.insert(&jobs[i].0.session_id);
        outcomes[i] = Some(appended(&jobs[i].0, &row, true));
    }
    // The messages after an opener that opened: they join it now.
    let followers: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| outcomes[i].is_none() && opened.contains(&jobs[i].0.session_id))
        .collect();
    for (i, row) in many(&mut tx, JOIN_MANY, jobs, &followers).await? {
        outcomes[i] = Some(appended(&jobs[i].0, &row, false));
    }
    pending.retain(|&i| outcomes[i].is_none());
    pending.extend(repeats);
    for i in pending {
        outcomes[i] = Some(match one(&mut tx, &jobs[i].0).await {
            // Refused for this message alone, by a read: the others go on.
            Err(StoreError::Taken(UniqueKey::ClientId)) if !failed(&mut tx).await => {
                Err(StoreError::Taken(UniqueKey::ClientId))
            }
            Err(error) => return Err(error),
            Ok(appended) => Ok(appended),
        });
    }
    // The webhook deliveries of the messages stored, each conversation's
    // by seq, committed with them: the conversations' rows are locked
    // until the commit, so their deliveries' seqs follow their messages'.
    let mut stored: Vec<(usize, &Appended)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, outcome)| match outcome {
            Some(Ok(appended)) if appended.created => Some((i, appended)),
            _ => None,
        })
        .collect();
    stored.sort_by(|(_, a), (_, b)| {
        (&a.message.conversation_id, a.message.seq)
            .cmp(&(&b.message.conversation_id, b.message.seq))
    });
    let deliveries: Vec<_> = stored
        .iter()
        .flat_map(|&(i, appended)| event::customer_message(&jobs[i].0, appended))
        .collect();
    webhooks::insert(&mut tx, &deliveries).await?;
    tx.commit().await.map_err(db)?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| {
                Err(StoreError::Database(
                    "a message of a batch was left out".into(),
                ))
            })
        })
        .collect())
}

/// Runs [`JOIN_MANY`] or [`OPEN_MANY`] for the jobs at `indexes`: the
/// index and row of each message it stored.
async fn many(
    conn: &mut PgConnection,
    statement: &'static str,
    jobs: &[Job],
    indexes: &[usize],
) -> StoreResult<Vec<(usize, PgRow)>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&NewCustomerMessage) -> String| -> Vec<String> {
        indexes.iter().map(|&i| f(&jobs[i].0)).collect()
    };
    let ordinals: Vec<i64> = indexes.iter().map(|&i| i as i64).collect();
    let names: Vec<Option<String>> = indexes
        .iter()
        .map(|&i| jobs[i].0.author_name.clone())
        .collect();
    let trusted: Vec<bool> = indexes.iter().map(|&i| jobs[i].0.trusted).collect();
    let now: Vec<i64> = indexes.iter().map(|&i| jobs[i].0.now_ms).collect();
    let mut query = sqlx::query(statement)
        .bind(ordinals)
        .bind(column(|m| m.id.clone()))
        .bind(names)
        .bind(column(|m| m.body.clone()))
        .bind(trusted)
        .bind(now)
        .bind(column(|m| m.client_id.clone()))
        .bind(column(|m| m.session_id.clone()))
        .bind(column(|m| m.customer_id.clone()));
    if statement == OPEN_MANY {
        let teams: Vec<Option<String>> = indexes
            .iter()
            .map(|&i| jobs[i].0.routing.team_id.clone())
            .collect();
        let priorities: Vec<i64> = indexes
            .iter()
            .map(|&i| jobs[i].0.routing.priority.rank())
            .collect();
        let rules: Vec<Option<String>> = indexes
            .iter()
            .map(|&i| jobs[i].0.routing.rule.clone())
            .collect();
        let holds: Vec<Option<i64>> = indexes
            .iter()
            .map(|&i| jobs[i].0.routing.held_until)
            .collect();
        query = query
            .bind(column(|_| uuid::Uuid::new_v4().to_string()))
            .bind(column(|m| m.app_id.clone()))
            .bind(teams)
            .bind(priorities)
            .bind(rules)
            .bind(holds);
    }
    let rows = query.fetch_all(conn).await.map_err(db)?;
    rows.into_iter()
        .map(|row| {
            let n: i64 = row.try_get("n").map_err(db)?;
            Ok((
                usize::try_from(n).map_err(|_| StoreError::Database("a bad ordinal".into()))?,
                row,
            ))
        })
        .collect()
}

/// [`JOIN`] for many messages at once (`$1` their ordinals, then arrays
/// of [`JOIN`]'s parameters): each conversation is bumped once, by its
/// number of messages, which take its seqs in ordinal order. The rows are
/// locked in the order of their ids, so two batches that touch the same
/// conversations (on two servers) wait for each other instead of
/// deadlocking.
///
/// Prepared statements keep the plan made on their first runs, perhaps on
/// nearly empty tables; every lookup here is written so that no plan can
/// read a whole table: the `client_id` check is a `LATERAL ... LIMIT 1`
/// (one index probe per message, never a hash join over all messages),
/// the conversation lookups are scalar subqueries on their unique indexes,
/// the lock and the bump find their rows by primary key (`id = ANY
/// (ARRAY(...))`), and the bump has no `status = 'open'` of its own (the
/// lock returns the newest status, and holds the row): with one, a plan
/// may walk the partial index of open conversations, all of them, for
/// each row (measured: 5 to 10 ms a batch at 10,000 open). The writers' connections also run
/// with `enable_seqscan = off`.
const JOIN_MANY: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[],
                         $6::bigint[], $7::text[], $8::text[], $9::text[])
        AS i(n, id, author_name, body, trusted, now_ms, client_id, session_id, customer_id)
), target AS (
    SELECT i.*, COALESCE(
        (SELECT c.id FROM conversations c
         WHERE i.trusted AND c.customer_id = i.customer_id AND c.status = 'open' AND c.proven),
        (SELECT c.id FROM conversations c WHERE c.session_id = i.session_id AND c.status = 'open')
    ) AS conversation_id
    FROM input i LEFT JOIN LATERAL (
        SELECT TRUE AS stored FROM messages m
        WHERE m.customer_id = i.customer_id AND m.client_id = i.client_id LIMIT 1
    ) before ON TRUE
    WHERE before.stored IS NULL
), counted AS (
    SELECT conversation_id, COUNT(*) AS k, MAX(now_ms) AS now_ms
    FROM target WHERE conversation_id IS NOT NULL GROUP BY conversation_id
), locked AS (
    SELECT c.id, c.status FROM conversations c
    WHERE c.id = ANY (ARRAY(SELECT conversation_id FROM counted))
    ORDER BY c.id FOR UPDATE
), bumped AS (
    UPDATE conversations c
    SET last_seq = c.last_seq + (SELECT k.k FROM counted k WHERE k.conversation_id = c.id),
        last_activity_at = (SELECT k.now_ms FROM counted k WHERE k.conversation_id = c.id)
    WHERE c.id = ANY (ARRAY(SELECT l.id FROM locked l WHERE l.status = 'open'))
    RETURNING c.id, c.last_seq, c.session_id, c.proven
), numbered AS (
    SELECT t.*, b.last_seq - COUNT(*) OVER whole + ROW_NUMBER() OVER ordered AS seq,
           b.session_id AS owner, b.proven
    FROM target t JOIN bumped b ON b.id = t.conversation_id
    WINDOW whole AS (PARTITION BY t.conversation_id),
           ordered AS (PARTITION BY t.conversation_id ORDER BY t.n)
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT id, conversation_id, seq, 'customer', author_name, 'text', body, trusted, now_ms,
           client_id, session_id, customer_id FROM numbered
)
SELECT n, conversation_id, seq, owner, proven FROM numbered";

/// [`OPEN`] for many messages at once, at most one per session (`$10`
/// the ids of the conversations to open, `$11` their apps, `$12` to `$15`
/// what routing decided for each).
const OPEN_MANY: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[],
                         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::bigint[], $14::text[], $15::bigint[])
        AS i(n, id, author_name, body, trusted, now_ms, client_id, session_id, customer_id,
             conversation_id, app_id, team_id, priority, rule, held_until)
), opened AS (
    INSERT INTO conversations (id, app_id, customer_id, session_id, proven, status, created_at,
                               last_seq, last_activity_at, team_id, priority, rule, held_until)
    SELECT conversation_id, app_id, customer_id, session_id, trusted, 'open', now_ms, 1, now_ms,
           team_id, priority, rule, held_until
    FROM input i LEFT JOIN LATERAL (
        SELECT TRUE AS stored FROM messages m
        WHERE m.customer_id = i.customer_id AND m.client_id = i.client_id LIMIT 1
    ) before ON TRUE
    WHERE before.stored IS NULL
    ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING id, session_id, proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT i.id, o.id, 1, 'customer', i.author_name, 'text', i.body, i.trusted, i.now_ms,
           i.client_id, i.session_id, i.customer_id
    FROM input i JOIN opened o ON o.id = i.conversation_id
)
SELECT i.n, o.id AS conversation_id, 1::bigint AS seq, o.session_id AS owner, o.proven
FROM input i JOIN opened o ON o.id = i.conversation_id";

/// Whether the transaction on `conn` was aborted by an error.
async fn failed(conn: &mut PgConnection) -> bool {
    sqlx::query("SELECT 1").execute(conn).await.is_err()
}

/// Stores a customer's message on its own, each statement committed as it
/// runs; with webhooks, in a transaction with its deliveries.
pub(super) async fn customer(pool: &PgPool, new: &NewCustomerMessage) -> StoreResult<Appended> {
    let mut conn = pool.acquire().await.map_err(db)?;
    if new.webhooks.0.is_empty() {
        return one(&mut conn, new).await;
    }
    let together = async {
        let mut tx = conn.begin().await.map_err(db)?;
        let appended = one(&mut tx, new).await?;
        webhooks::insert(&mut tx, &event::customer_message(new, &appended)).await?;
        tx.commit().await.map_err(db)?;
        Ok::<_, StoreError>(appended)
    }
    .await;
    match together {
        Ok(appended) => Ok(appended),
        Err(error) => {
            // `one` reads a message stored before back after a unique
            // conflict, which an aborted transaction cannot: again, as
            // before webhooks, statement by statement. Should that store
            // the message (a race between the two), its deliveries follow
            // right after its commit, not in it.
            tracing::debug!(%error, "storing a message with its webhook deliveries failed; storing it on its own");
            let appended = one(&mut conn, new).await?;
            if appended.created {
                webhooks::insert(&mut conn, &event::customer_message(new, &appended)).await?;
            }
            Ok(appended)
        }
    }
}

/// Joins the open conversation the session writes into (the session's
/// own; trusted, the customer's proven one first: the rule of
/// `current_conversation` and the hub's audience) with the next `seq`,
/// taken by bumping the conversation's `last_seq`, unless the customer
/// stored this `client_id` before. The row lock of that `UPDATE` orders
/// the writers of one conversation, on any server, until each commits:
/// seqs have neither gaps nor repeats. The `status = 'open'` in the
/// `UPDATE` is checked again on the newest row version after a wait, so a
/// conversation closed meanwhile takes no message. Should the insert fail
/// (a `client_id` stored by a writer not yet committed when this one
/// looked), the whole statement, its bump included, is undone.
const JOIN: &str = "\
WITH target AS (
    SELECT id FROM conversations
    WHERE status = 'open' AND (session_id = $7 OR ($4 AND customer_id = $8 AND proven))
      AND NOT EXISTS (SELECT 1 FROM messages WHERE customer_id = $8 AND client_id = $6)
    ORDER BY proven DESC LIMIT 1
), bumped AS (
    UPDATE conversations c SET last_seq = c.last_seq + 1, last_activity_at = $5
    FROM target WHERE c.id = target.id AND c.status = 'open'
    RETURNING c.id, c.last_seq, c.session_id, c.proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT $1, id, last_seq, 'customer', $2, 'text', $3, $4, $5, $6, $7, $8 FROM bumped
    RETURNING conversation_id, seq
)
SELECT i.conversation_id, i.seq, b.session_id AS owner, b.proven
FROM inserted i JOIN bumped b ON b.id = i.conversation_id";

/// Opens a conversation owned by the session (proven when trusted) with
/// the message as its `seq` 1, unless the customer stored this
/// `client_id` before (a resend after a close opens nothing). The partial
/// unique indexes allow one open conversation per session and one open
/// proven one per customer: when another writer opened that meanwhile,
/// nothing is inserted (`ON CONFLICT DO NOTHING`, after waiting for that
/// writer's commit) and the append joins it.
const OPEN: &str = "\
WITH opened AS (
    INSERT INTO conversations (id, app_id, customer_id, session_id, proven, status, created_at,
                               last_seq, last_activity_at, team_id, priority, rule, held_until)
    SELECT $9, $10, $8, $7, $4, 'open', $5, 1, $5, $11, $12, $13, $14
    WHERE NOT EXISTS (SELECT 1 FROM messages WHERE customer_id = $8 AND client_id = $6)
    ON CONFLICT DO NOTHING
    RETURNING id, session_id, proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted,
                          created_at_ms, client_id, session_id, customer_id)
    SELECT $1, id, 1, 'customer', $2, 'text', $3, $4, $5, $6, $7, $8 FROM opened
    RETURNING conversation_id, seq
)
SELECT i.conversation_id, i.seq, o.session_id AS owner, o.proven
FROM inserted i JOIN opened o ON o.id = i.conversation_id";

/// An agent's message with the next `seq` of an open conversation, taken
/// as in [`JOIN`].
const AGENT: &str = "\
WITH bumped AS (
    UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $6,
        email_due_at = COALESCE(email_due_at, $9::BIGINT)
    WHERE id = $8 AND status = 'open'
    RETURNING id, last_seq, app_id, customer_id, session_id, proven
), inserted AS (
    INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, link, trusted,
                          created_at_ms, client_id)
    SELECT $1, id, last_seq, 'agent', $2, $3, $4, $5, FALSE, $6, $7 FROM bumped
    RETURNING seq
)
SELECT i.seq, b.app_id, b.customer_id, b.session_id AS owner, b.proven
FROM inserted i CROSS JOIN bumped b";

/// Stores a customer's message on `conn`: one statement that joins the
/// open conversation; when there is none, one that opens it; when the
/// `client_id` was stored before, one that reads that message back.
async fn one(conn: &mut PgConnection, new: &NewCustomerMessage) -> StoreResult<Appended> {
    for _ in 0..ATTEMPTS {
        match insert(conn, JOIN, new, None).await {
            Ok(Some(row)) => return appended(new, &row, false),
            Ok(None) => {}
            // Stored by a writer that had not committed when this one looked.
            Err(StoreError::Taken(UniqueKey::ClientId)) => {
                return stored_before(conn, new).await?.ok_or_else(vanished)
            }
            Err(error) => return Err(error),
        }
        let conversation_id = uuid::Uuid::new_v4().to_string();
        match insert(conn, OPEN, new, Some(&conversation_id)).await {
            Ok(Some(row)) => return appended(new, &row, true),
            // The client_id was stored before, or another writer opened the
            // conversation meanwhile (then join it).
            Ok(None) => {}
            Err(StoreError::Taken(UniqueKey::ClientId)) => {
                return stored_before(conn, new).await?.ok_or_else(vanished)
            }
            Err(error) => return Err(error),
        }
        if let Some(before) = stored_before(conn, new).await? {
            return Ok(before);
        }
    }
    Err(StoreError::Database(
        format!("no open conversation to join after {ATTEMPTS} attempts").into(),
    ))
}

fn vanished() -> StoreError {
    StoreError::Database("a client_id conflicted but no message has it".into())
}

/// Runs [`JOIN`] or [`OPEN`] (with the id of the conversation to open).
async fn insert(
    conn: &mut PgConnection,
    statement: &'static str,
    new: &NewCustomerMessage,
    open: Option<&str>,
) -> StoreResult<Option<PgRow>> {
    let query = sqlx::query(statement)
        .bind(&new.id)
        .bind(&new.author_name)
        .bind(&new.body)
        .bind(new.trusted)
        .bind(new.now_ms)
        .bind(&new.client_id)
        .bind(&new.session_id)
        .bind(&new.customer_id);
    let query = match open {
        Some(conversation_id) => query
            .bind(conversation_id)
            .bind(&new.app_id)
            .bind(&new.routing.team_id)
            .bind(new.routing.priority.rank())
            .bind(&new.routing.rule)
            .bind(new.routing.held_until),
        None => query,
    };
    query.fetch_optional(conn).await.map_err(db)
}

fn appended(new: &NewCustomerMessage, row: &PgRow, opened: bool) -> StoreResult<Appended> {
    Ok(Appended {
        message: MessageRecord {
            id: new.id.clone(),
            conversation_id: row.try_get("conversation_id").map_err(db)?,
            seq: row.try_get("seq").map_err(db)?,
            author: Author::Customer,
            author_name: new.author_name.clone(),
            kind: MessageKind::Text,
            body: new.body.clone(),
            link: None,
            trusted: new.trusted,
            created_at_ms: new.now_ms,
            client_id: Some(new.client_id.clone()),
            session_id: Some(new.session_id.clone()),
        },
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: true,
        opened,
    })
}

/// The message the session stored earlier with this `client_id`, if any;
/// [`UniqueKey::ClientId`] taken when another session of the customer sent
/// it (a session reads back only what it wrote).
async fn stored_before(
    conn: &mut PgConnection,
    new: &NewCustomerMessage,
) -> StoreResult<Option<Appended>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS}, \
         (SELECT c.session_id FROM conversations c WHERE c.id = messages.conversation_id) AS owner, \
         (SELECT c.proven FROM conversations c WHERE c.id = messages.conversation_id) AS proven \
         FROM messages WHERE customer_id = $1 AND client_id = $2"
    )))
    .bind(&new.customer_id)
    .bind(&new.client_id)
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let message = message_from_row(&row)?;
    if message.session_id.as_deref() != Some(new.session_id.as_str()) {
        return Err(StoreError::Taken(UniqueKey::ClientId));
    }
    Ok(Some(Appended {
        message,
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: false,
        opened: false,
    }))
}

/// Stores an agent's message (see [`crate::store::Store::append_agent_message`]):
/// one statement.
pub(super) async fn agent(pool: &PgPool, new: &NewAgentMessage) -> StoreResult<Option<Appended>> {
    if new.webhooks.0.is_empty() {
        let mut conn = pool.acquire().await.map_err(db)?;
        return agent_on(&mut conn, new).await;
    }
    // With webhooks, the message and its deliveries commit together; the
    // bump holds the conversation's row until then.
    let mut tx = pool.begin().await.map_err(db)?;
    let appended = agent_on(&mut tx, new).await?;
    if let Some(appended) = &appended {
        let deliveries = event::message_created(
            &new.webhooks,
            &appended.app_id,
            &appended.customer_id,
            &appended.message,
        );
        webhooks::insert(&mut tx, &deliveries).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(appended)
}

/// The agent's message on `conn`: one statement.
async fn agent_on(conn: &mut PgConnection, new: &NewAgentMessage) -> StoreResult<Option<Appended>> {
    let row = sqlx::query(AGENT)
        .bind(&new.id)
        .bind(&new.author_name)
        .bind(kind_str(new.kind))
        .bind(&new.body)
        .bind(&new.link)
        .bind(new.now_ms)
        .bind(&new.client_id)
        .bind(&new.conversation_id)
        .bind(new.email_due_at)
        .fetch_optional(conn)
        .await
        .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Appended {
        message: MessageRecord {
            id: new.id.clone(),
            conversation_id: new.conversation_id.clone(),
            seq: row.try_get("seq").map_err(db)?,
            author: Author::Agent,
            author_name: Some(new.author_name.clone()),
            kind: new.kind,
            body: new.body.clone(),
            link: new.link.clone(),
            trusted: false,
            created_at_ms: new.now_ms,
            client_id: new.client_id.clone(),
            session_id: None,
        },
        app_id: row.try_get("app_id").map_err(db)?,
        customer_id: row.try_get("customer_id").map_err(db)?,
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: true,
        opened: false,
    }))
}
