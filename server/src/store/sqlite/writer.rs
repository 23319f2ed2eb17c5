//! The message writer of a SQLite store: one task, on a thread of its own,
//! that commits every append waiting in its queue in one transaction and
//! answers them all after the one commit (see the module documentation of
//! [`super`], "Durability" and the statements of a batch).

use std::future::Future;

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};
use trustchat_protocol::{Author, MessageKind};

use super::{db, kind_str, message_from_row, webhooks, MESSAGE_COLUMNS};
use crate::store::{
    Appended, MessageRecord, NewAgentMessage, NewCustomerMessage, StoreError, StoreResult,
    UniqueKey,
};
use crate::webhooks::event;

/// The most appends committed in one transaction.
pub(super) const MAX_BATCH: usize = 256;
/// How many appends may wait for the writer before senders wait too.
pub(super) const WRITE_QUEUE: usize = 4096;
/// One append waiting for the writer, with where to send its outcome.
#[derive(Debug)]
pub(super) enum WriteJob {
    /// A customer's message.
    Customer(NewCustomerMessage, oneshot::Sender<StoreResult<Appended>>),
    /// An agent's message.
    Agent(
        NewAgentMessage,
        oneshot::Sender<StoreResult<Option<Appended>>>,
    ),
    /// Stop the writer (the store is closing).
    Stop,
}

/// Runs the writer task (and the checkpointer beside it) on a thread of
/// its own, in a single-threaded runtime that ends with them.
/// Every statement of a batch is a round trip to the connection's worker
/// thread; on the server's runtime the writer would, after each one, wait
/// to be polled again behind the tasks of thousands of sockets, and under
/// load that wait, not SQLite, made the batches slow.
pub(super) fn spawn_writer(
    writer: impl Future<Output = ()> + Send + 'static,
    checkpointer: Option<impl Future<Output = ()> + Send + 'static>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the database writer: {e}"))?;
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let checkpointer = checkpointer.map(|task| runtime.spawn(task));
            runtime.block_on(async move {
                writer.await;
                // It stops too (the store is closing or gone): let it
                // finish the round it may be in.
                if let Some(checkpointer) = checkpointer {
                    let _ = checkpointer.await;
                }
            });
        })
        .map_err(|e| anyhow::anyhow!("cannot start the database writer: {e}"))?;
    Ok(())
}

/// The writer task: waits for appends, then commits all that are queued
/// (up to [`MAX_BATCH`]) in one transaction on the writer connection.
/// Returns (dropping the queue, which [`Store::close`] waits for) after the
/// batch that holds a [`WriteJob::Stop`].
pub(super) async fn write_loop(pool: SqlitePool, mut jobs: mpsc::Receiver<WriteJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let stop = batch.iter().any(|job| matches!(job, WriteJob::Stop));
        if batch.iter().all(|job| matches!(job, WriteJob::Stop)) {
            batch.clear();
        } else {
            run_batch(&pool, &mut batch).await;
        }
        if stop {
            break;
        }
    }
}

/// An append that ran, waiting for the commit to answer.
enum Done {
    Customer(
        StoreResult<Appended>,
        oneshot::Sender<StoreResult<Appended>>,
    ),
    Agent(
        StoreResult<Option<Appended>>,
        oneshot::Sender<StoreResult<Option<Appended>>>,
    ),
}

async fn run_batch(pool: &SqlitePool, batch: &mut Vec<WriteJob>) {
    let mut done = Vec::with_capacity(batch.len());
    let committed = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        // The webhook deliveries of the batch's messages, in the order
        // they were stored (each conversation's by seq), committed with
        // them.
        let mut deliveries = Vec::new();
        for job in batch.drain(..) {
            match job {
                WriteJob::Customer(message, reply) => {
                    let result = append_customer(&mut tx, &message).await;
                    if let Ok(appended) = &result {
                        deliveries.extend(event::customer_message(&message, appended));
                    }
                    done.push(Done::Customer(result, reply));
                }
                WriteJob::Agent(message, reply) => {
                    let result = append_agent(&mut tx, &message).await;
                    if let Ok(Some(appended)) = &result {
                        deliveries.extend(event::message_created(
                            &message.webhooks,
                            &appended.app_id,
                            &appended.customer_id,
                            &appended.message,
                        ));
                    }
                    done.push(Done::Agent(result, reply));
                }
                WriteJob::Stop => {}
            }
        }
        webhooks::insert(&mut tx, &deliveries).await?;
        tx.commit().await.map_err(db)
    }
    .await;
    // Jobs never reached (the transaction failed early) are answered by
    // dropping their reply channel: the caller sees a database error.
    batch.clear();
    if let Err(error) = &committed {
        tracing::error!(%error, "message batch failed to commit");
    }
    for finished in done {
        let failed = || StoreError::Database("the message batch failed to commit".into());
        match finished {
            Done::Customer(result, reply) => {
                let _ = reply.send(if committed.is_ok() {
                    result
                } else {
                    Err(failed())
                });
            }
            Done::Agent(result, reply) => {
                let _ = reply.send(if committed.is_ok() {
                    result
                } else {
                    Err(failed())
                });
            }
        }
    }
}

/// One customer append inside the batch's transaction.
async fn append_customer(
    conn: &mut SqliteConnection,
    new: &NewCustomerMessage,
) -> StoreResult<Appended> {
    let appended = |(message, owner, proven), opened| Appended {
        message,
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: owner,
        proven,
        created: true,
        opened,
    };
    // The common case, one statement: join the open conversation.
    match insert_customer_message(conn, new).await {
        Ok(Some(inserted)) => return Ok(appended(inserted, false)),
        Ok(None) => {}
        Err(StoreError::Taken(UniqueKey::ClientId)) => return stored_before(conn, new).await,
        Err(error) => return Err(error),
    }
    // No open conversation: a first message that opens one, or a resend
    // of a message whose conversation has been closed since. The
    // conversation opens only for a client_id never stored, so the resend
    // leaves nothing behind; no other writer can come between the two
    // statements. Two statements, not a savepoint around a check and two
    // more: every statement is a round trip to the connection's thread.
    let conversation_id = uuid::Uuid::new_v4().to_string();
    let opened = sqlx::query(
        "INSERT INTO conversations (id, app_id, customer_id, session_id, proven, status, created_at, \
         last_seq, last_activity_at, team_id, priority, rule, held_until) \
         SELECT ?, ?, ?, ?, ?, 'open', ?, 0, ?, ?, ?, ?, ? \
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE customer_id = ? AND client_id = ?)",
    )
    .bind(&conversation_id)
    .bind(&new.app_id)
    .bind(&new.customer_id)
    .bind(&new.session_id)
    .bind(new.trusted)
    .bind(new.now_ms)
    .bind(new.now_ms)
    .bind(&new.routing.team_id)
    .bind(new.routing.priority.rank())
    .bind(&new.routing.rule)
    .bind(new.routing.held_until)
    .bind(&new.customer_id)
    .bind(&new.client_id)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected()
        == 1;
    if !opened {
        return stored_before(conn, new).await;
    }
    match insert_customer_message(conn, new).await {
        Ok(Some(inserted)) => Ok(appended(inserted, true)),
        failed => {
            // Only a failing database gets here: take the conversation
            // back out rather than leave it open without its message.
            let undone = sqlx::query("DELETE FROM conversations WHERE id = ?")
                .bind(&conversation_id)
                .execute(&mut *conn)
                .await;
            if let Err(error) = undone {
                tracing::error!(%error, "cannot remove a conversation whose first message failed");
            }
            Err(failed.err().unwrap_or_else(|| {
                StoreError::Database("the conversation just opened is not open".into())
            }))
        }
    }
}

/// `INSERT ... SELECT` into the open conversation the session writes into
/// with the next `seq`: the session's own, or, trusted, the customer's
/// proven one (first). `None` when there is none, [`UniqueKey::ClientId`] taken
/// when the `client_id` was stored before. With the message come the
/// conversation's owner session and proof.
async fn insert_customer_message(
    conn: &mut SqliteConnection,
    new: &NewCustomerMessage,
) -> StoreResult<Option<(MessageRecord, Option<String>, bool)>> {
    let row = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, trusted, \
         created_at_ms, client_id, session_id, customer_id) \
         SELECT ?1, id, last_seq + 1, 'customer', ?2, 'text', ?3, ?4, ?5, ?6, ?7, ?8 \
         FROM conversations WHERE status = 'open' \
         AND (session_id = ?7 OR (?4 AND customer_id = ?8 AND proven = 1)) \
         ORDER BY proven DESC LIMIT 1 \
         RETURNING conversation_id, seq, \
         (SELECT session_id FROM conversations WHERE id = conversation_id) AS owner, \
         (SELECT proven FROM conversations WHERE id = conversation_id) AS proven",
    )
    .bind(&new.id)
    .bind(&new.author_name)
    .bind(&new.body)
    .bind(new.trusted)
    .bind(new.now_ms)
    .bind(&new.client_id)
    .bind(&new.session_id)
    .bind(&new.customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let message = MessageRecord {
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
    };
    Ok(Some((
        message,
        row.try_get("owner").map_err(db)?,
        row.try_get("proven").map_err(db)?,
    )))
}

/// The message the session stored earlier with this `client_id`;
/// [`UniqueKey::ClientId`] taken when another session of the customer sent it
/// (a session reads back only what it wrote).
async fn stored_before(
    conn: &mut SqliteConnection,
    new: &NewCustomerMessage,
) -> StoreResult<Appended> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS}, \
         (SELECT session_id FROM conversations c WHERE c.id = conversation_id) AS owner, \
         (SELECT proven FROM conversations c WHERE c.id = conversation_id) AS proven \
         FROM messages WHERE customer_id = ? AND client_id = ?"
    )))
    .bind(&new.customer_id)
    .bind(&new.client_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or_else(|| StoreError::Database("a client_id conflicted but no message has it".into()))?;
    let message = message_from_row(&row)?;
    if message.session_id.as_deref() != Some(new.session_id.as_str()) {
        return Err(StoreError::Taken(UniqueKey::ClientId));
    }
    Ok(Appended {
        message,
        app_id: new.app_id.clone(),
        customer_id: new.customer_id.clone(),
        owner_session_id: row.try_get("owner").map_err(db)?,
        proven: row.try_get("proven").map_err(db)?,
        created: false,
        opened: false,
    })
}

/// One agent append inside the batch's transaction: one statement.
async fn append_agent(
    conn: &mut SqliteConnection,
    new: &NewAgentMessage,
) -> StoreResult<Option<Appended>> {
    let row = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, author, author_name, kind, body, link, trusted, \
         created_at_ms, client_id) \
         SELECT ?, id, last_seq + 1, 'agent', ?, ?, ?, ?, 0, ?, ? \
         FROM conversations WHERE id = ? AND status = 'open' \
         RETURNING seq, (SELECT app_id FROM conversations WHERE id = conversation_id) AS app_id, \
         (SELECT customer_id FROM conversations WHERE id = conversation_id) AS customer_id, \
         (SELECT session_id FROM conversations WHERE id = conversation_id) AS owner, \
         (SELECT proven FROM conversations WHERE id = conversation_id) AS proven",
    )
    .bind(&new.id)
    .bind(&new.author_name)
    .bind(kind_str(new.kind))
    .bind(&new.body)
    .bind(&new.link)
    .bind(new.now_ms)
    .bind(&new.client_id)
    .bind(&new.conversation_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    if let Some(due) = new.email_due_at {
        // In the batch's transaction: the reply and its email come
        // together or not at all.
        sqlx::query(
            "UPDATE conversations SET email_due_at = COALESCE(email_due_at, ?) WHERE id = ?",
        )
        .bind(due)
        .bind(&new.conversation_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
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
