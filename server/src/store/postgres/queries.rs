//! The [`Store`] implementation of [`PostgresStore`]: one statement, or
//! one short transaction, per method; the SQL mirrors the SQLite store's.

use std::time::Duration;

use async_trait::async_trait;
use trustchat_protocol::AgentStatus;

use super::rows::{
    agent_from_row, agent_session_from_row, conversation_from_row, customer_from_row, db,
    session_from_row, AGENT_COLUMNS, AGENT_SESSION_COLUMNS, CONVERSATION_COLUMNS, CUSTOMER_COLUMNS,
    MESSAGE_COLUMNS, SESSION_COLUMNS,
};
use super::{append, routing, webhooks, PostgresStore};
use crate::store::{
    agent_status_str, AgentRecord, AgentSessionRecord, Among, Appended, AuditActor, AuditRecord,
    ConversationFilter, ConversationRecord, ConversationView, CustomerData, CustomerMatch,
    CustomerRecord, EmailClaim, EmailDone, Erased, GivenIdentity, LinkedConversations,
    MessageRecord, NewAgentMessage, NewCustomerMessage, Purged, RatingRecord, Reader, ReportDay,
    ReportRow, RoutingFacts, RoutingGuard, SavedReplyRecord, SessionRecord, Store, StoreError,
    StoreResult, UniqueKey, GAVE_NAME_AND_CONTACT,
};
use crate::store::{
    DeliveryClaim, DeliveryDone, DeliveryRecord, NewDelivery, WebhookCounts, Webhooks,
};

/// A `to_tsquery('simple', …)` text matching every term as a prefix:
/// each term kept to letters, digits and `@ . _ -` (no tsquery syntax
/// survives; a phone's `+` is dropped as the index drops it), quoted and
/// starred, joined by `&`. Empty when nothing is left.
fn ts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| {
            term.chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-'))
                .collect::<String>()
        })
        .map(|term| term.trim_matches(|c: char| !c.is_alphanumeric()).to_owned())
        .filter(|term| !term.is_empty())
        .map(|term| format!("'{term}':*"))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// How long [`Store::ping`] waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a link of conversations is tried when another writer opened
/// a proven conversation of the customer between its statements.
const LINK_ATTEMPTS: usize = 3;

impl PostgresStore {
    /// A profile of the app with this `column` (`email` or `phone`) value,
    /// among `among`: proven ones first, then the most recently updated.
    async fn customer_by_contact(
        &self,
        column: &'static str,
        app_id: &str,
        value: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        let unproven = match among {
            Among::Any => "",
            Among::Unproven => "AND sub IS NULL",
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = $1 AND {column} = $2 {unproven} \
             ORDER BY sub IS NULL, updated_at DESC, rowid DESC LIMIT 1"
        )))
        .bind(app_id)
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    /// One try of [`Store::link_session_conversations`].
    async fn link_once(
        &self,
        session_id: &str,
        to: &str,
        prove: bool,
        now_ms: i64,
        hooks: &Webhooks,
    ) -> StoreResult<LinkedConversations> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let session_has_open: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE session_id = $1 AND status = 'open')",
        )
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let closed = if prove && session_has_open {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE conversations SET status = 'closed', closed_at = $1, last_activity_at = $1 \
                 WHERE customer_id = $2 AND status = 'open' AND proven \
                 AND (session_id IS NULL OR session_id <> $3) RETURNING {CONVERSATION_COLUMNS}"
            )))
            .bind(now_ms)
            .bind(to)
            .bind(session_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| conversation_from_row(&row))
            .transpose()?
        } else {
            None
        };
        // Idempotency keys follow the messages (see the SQLite store).
        sqlx::query(
            "UPDATE messages SET customer_id = $1 WHERE customer_id IS NOT NULL \
             AND conversation_id IN (SELECT id FROM conversations WHERE session_id = $2)",
        )
        .bind(to)
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let linked = sqlx::query(
            "UPDATE conversations SET customer_id = $1, proven = (proven OR $2) WHERE session_id = $3",
        )
        .bind(to)
        .bind(prove)
        .bind(session_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if let Some(conversation) = &closed {
            let deliveries = crate::webhooks::event::conversation_closed(hooks, conversation);
            webhooks::insert(&mut tx, &deliveries).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(LinkedConversations { linked, closed })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn customer(&self, id: &str) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_sub(
        &self,
        app_id: &str,
        sub: &str,
    ) -> StoreResult<Option<CustomerRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE app_id = $1 AND sub = $2"
        )))
        .bind(app_id)
        .bind(sub)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| customer_from_row(&row))
        .transpose()
    }

    async fn customer_by_email(
        &self,
        app_id: &str,
        email: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        self.customer_by_contact("email", app_id, email, among)
            .await
    }

    async fn customer_by_phone(
        &self,
        app_id: &str,
        phone: &str,
        among: Among,
    ) -> StoreResult<Option<CustomerRecord>> {
        self.customer_by_contact("phone", app_id, phone, among)
            .await
    }

    async fn insert_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO customers (id, app_id, sub, name, email, phone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&customer.id)
        .bind(&customer.app_id)
        .bind(&customer.sub)
        .bind(&customer.name)
        .bind(&customer.email)
        .bind(&customer.phone)
        .bind(customer.created_at)
        .bind(customer.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.app_id)
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.sub)
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(&session.display_email)
        .bind(&session.display_phone)
        .bind(session.created_at)
        .bind(session.revoked_at)
        .bind(&session.page_url)
        .bind(crate::store::locales_str(&session.locales));
        if deliveries.is_empty() {
            query.execute(&self.pool).await.map_err(db)?;
            return Ok(());
        }
        // With deliveries, one transaction.
        let mut tx = self.pool.begin().await.map_err(db)?;
        query.execute(&mut *tx).await.map_err(db)?;
        webhooks::insert(&mut tx, deliveries).await?;
        tx.commit().await.map_err(db)
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn revoke_session(&self, id: &str, now: i64) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(result.rows_affected() == 1)
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn update_session_identity(
        &self,
        session: &SessionRecord,
        deliveries: &[NewDelivery],
    ) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE sessions SET customer_id = $1, trusted = $2, trusted_until = $3, \
             identity_kind = $4, sub = $5, display_name = $6, display_first_name = $7, \
             display_email = $8, display_phone = $9 WHERE id = $10",
        )
        .bind(&session.customer_id)
        .bind(session.trusted)
        .bind(session.trusted_until)
        .bind(session.identity_kind.as_str())
        .bind(&session.sub)
        .bind(&session.display_name)
        .bind(&session.display_first_name)
        .bind(&session.display_email)
        .bind(&session.display_phone)
        .bind(&session.id);
        if deliveries.is_empty() {
            query.execute(&self.pool).await.map_err(db)?;
            return Ok(());
        }
        // With deliveries, one transaction.
        let mut tx = self.pool.begin().await.map_err(db)?;
        query.execute(&mut *tx).await.map_err(db)?;
        webhooks::insert(&mut tx, deliveries).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_customer(&self, customer: &CustomerRecord) -> StoreResult<()> {
        sqlx::query(
            "UPDATE customers SET sub = $1, name = $2, email = $3, phone = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(&customer.sub)
        .bind(&customer.name)
        .bind(&customer.email)
        .bind(&customer.phone)
        .bind(customer.updated_at)
        .bind(&customer.id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn append_customer_message(&self, message: NewCustomerMessage) -> StoreResult<Appended> {
        self.writers.customer(message).await
    }

    async fn append_agent_message(
        &self,
        message: NewAgentMessage,
    ) -> StoreResult<Option<Appended>> {
        append::agent(&self.pool, &message).await
    }

    async fn agent_message_by_client_id(
        &self,
        conversation_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id = $1 AND client_id = $2 AND author = 'agent'"
        )))
        .bind(conversation_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| super::rows::message_from_row(&row))
        .transpose()
    }

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn current_conversation(
        &self,
        reader: &Reader,
    ) -> StoreResult<Option<ConversationRecord>> {
        // The open one the session writes into first (the proven one when
        // trusted, as `append::JOIN` picks), else the newest.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE session_id = $1 OR ($2 AND customer_id = $3 AND proven) \
             ORDER BY status = 'open' DESC, (status = 'open' AND proven) DESC, \
             created_at DESC, rowid DESC LIMIT 1"
        )))
        .bind(&reader.session_id)
        .bind(reader.trusted)
        .bind(&reader.customer_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn messages_at(&self, places: &[(String, i64)]) -> StoreResult<Vec<MessageRecord>> {
        if places.is_empty() {
            return Ok(Vec::new());
        }
        let (conversations, seqs): (Vec<&str>, Vec<i64>) =
            places.iter().map(|(c, s)| (c.as_str(), *s)).unzip();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             JOIN unnest($1::text[], $2::bigint[]) AS place(conversation_id, seq) \
             USING (conversation_id, seq)"
        )))
        .bind(&conversations)
        .bind(&seqs)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(super::rows::message_from_row)
        .collect()
    }

    async fn messages_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        )))
        .bind(conversation_id)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(super::rows::message_from_row)
        .collect()
    }

    async fn close_conversation(
        &self,
        id: &str,
        now_ms: i64,
        hooks: &Webhooks,
    ) -> StoreResult<Option<ConversationRecord>> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET status = 'closed', closed_at = $1, last_activity_at = $1 \
             WHERE id = $2 AND status = 'open' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(now_ms)
        .bind(id);
        if !hooks.takes(crate::store::EventType::ConversationClosed) {
            return query
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .map(|row| conversation_from_row(&row))
                .transpose();
        }
        // The close holds the conversation's row until the commit, so its
        // delivery's seq follows its messages'.
        let mut tx = self.pool.begin().await.map_err(db)?;
        let closed = query
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| conversation_from_row(&row))
            .transpose()?;
        if let Some(conversation) = &closed {
            let deliveries = crate::webhooks::event::conversation_closed(hooks, conversation);
            webhooks::insert(&mut tx, &deliveries).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(closed)
    }

    async fn link_session_conversations(
        &self,
        session_id: &str,
        to: &str,
        prove: bool,
        now_ms: i64,
        hooks: &Webhooks,
    ) -> StoreResult<LinkedConversations> {
        // SQLite runs the link alone. Here a session of the customer may
        // open a proven conversation between its statements; the unique
        // index then refuses the second proven one, and the next try
        // closes it as it would have been had it come first.
        let mut attempt = 1;
        loop {
            match self.link_once(session_id, to, prove, now_ms, hooks).await {
                Err(StoreError::Taken(UniqueKey::OpenProvenConversation))
                    if attempt < LINK_ATTEMPTS =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn insert_agent(&self, agent: &AgentRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, email, name, password_hash, status, created_at, last_assigned_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&agent.id)
        .bind(&agent.email)
        .bind(&agent.name)
        .bind(&agent.password_hash)
        .bind(agent_status_str(agent.status))
        .bind(agent.created_at)
        .bind(agent.last_assigned_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn agent(&self, id: &str) -> StoreResult<Option<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 AND disabled_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn agent_by_email(&self, email: &str) -> StoreResult<Option<AgentRecord>> {
        // The expression of the `agents_email` index: ASCII case folded.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents \
             WHERE lower(email COLLATE \"C\") = lower($1 COLLATE \"C\") AND disabled_at IS NULL"
        )))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn agents(&self) -> StoreResult<Vec<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE disabled_at IS NULL \
             ORDER BY name COLLATE \"C\", email COLLATE \"C\""
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(agent_from_row)
        .collect()
    }

    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
    ) -> StoreResult<Option<AgentRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE agents SET status = $1 WHERE id = $2 AND disabled_at IS NULL \
             RETURNING {AGENT_COLUMNS}"
        )))
        .bind(agent_status_str(status))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| agent_from_row(&row))
        .transpose()
    }

    async fn remove_agent(&self, id: &str, now_ms: i64) -> StoreResult<Vec<ConversationRecord>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("UPDATE agents SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "UPDATE agent_sessions SET revoked_at = $1 WHERE agent_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let requeued = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET assigned_agent_id = NULL \
             WHERE assigned_agent_id = $1 AND status = 'open' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await.map_err(db)?;
        Ok(requeued)
    }

    async fn set_agent_teams(&self, agent_id: &str, teams: &[String]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM agent_teams WHERE agent_id = $1")
            .bind(agent_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO agent_teams (agent_id, team_id) SELECT $1, t FROM unnest($2::text[]) AS t \
             ON CONFLICT DO NOTHING",
        )
        .bind(agent_id)
        .bind(teams)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn agent_teams(&self, agent_id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT team_id FROM agent_teams WHERE agent_id = $1 ORDER BY team_id COLLATE \"C\"",
        )
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn insert_agent_session(&self, session: &AgentSessionRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO agent_sessions ({AGENT_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(&session.id)
        .bind(&session.token_hash)
        .bind(&session.csrf_token)
        .bind(&session.agent_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn agent_session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<AgentSessionRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_SESSION_COLUMNS} FROM agent_sessions WHERE token_hash = $1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| agent_session_from_row(&row))
        .transpose()
    }

    async fn revoke_agent_session(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE agent_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn assign_conversation(
        &self,
        id: &str,
        agent_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<ConversationRecord>> {
        // One statement: the agent's `last_assigned_at` moves only when the
        // conversation was open and so was assigned.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH assigned AS ( \
                 UPDATE conversations SET assigned_agent_id = $1, held_until = NULL \
                 WHERE id = $2 AND status = 'open' \
                 RETURNING {CONVERSATION_COLUMNS} \
             ), touched AS ( \
                 UPDATE agents SET last_assigned_at = $3 \
                 WHERE id = $1 AND EXISTS (SELECT 1 FROM assigned) \
             ) \
             SELECT {CONVERSATION_COLUMNS} FROM assigned"
        )))
        .bind(agent_id)
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn queued_conversations(&self) -> StoreResult<Vec<ConversationRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations \
             WHERE status = 'open' AND assigned_agent_id IS NULL \
             ORDER BY priority, created_at, rowid"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(conversation_from_row)
        .collect()
    }

    async fn set_conversation_routing(
        &self,
        id: &str,
        routing: &RoutingFacts,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET team_id = $1, priority = $2, rule = $3, held_until = $4 \
             WHERE id = $5 AND status = 'open' AND assigned_agent_id IS NULL",
        )
        .bind(&routing.team_id)
        .bind(routing.priority.rank())
        .bind(&routing.rule)
        .bind(routing.held_until)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rate_conversation(
        &self,
        id: &str,
        rating: &RatingRecord,
    ) -> StoreResult<Option<ConversationRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET rating = $1, rating_comment = $2, rated_at = $3 \
             WHERE id = $4 AND status = 'closed' RETURNING {CONVERSATION_COLUMNS}"
        )))
        .bind(rating.rating)
        .bind(&rating.comment)
        .bind(rating.rated_at)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| conversation_from_row(&row))
        .transpose()
    }

    async fn agent_memberships(&self) -> StoreResult<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT t.agent_id, t.team_id FROM agent_teams t JOIN agents a ON a.id = t.agent_id \
             WHERE a.disabled_at IS NULL ORDER BY t.agent_id COLLATE \"C\", t.team_id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn saved_replies(&self, teams: &[String]) -> StoreResult<Vec<SavedReplyRecord>> {
        let rows: Vec<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, team_id, title, body, created_by, created_at FROM saved_replies \
             WHERE team_id = ANY($1) ORDER BY team_id COLLATE \"C\", title COLLATE \"C\", id",
        )
        .bind(teams)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, team_id, title, body, created_by, created_at)| SavedReplyRecord {
                    id,
                    team_id,
                    title,
                    body,
                    created_by,
                    created_at,
                },
            )
            .collect())
    }

    async fn insert_saved_reply(&self, reply: &SavedReplyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO saved_replies (id, team_id, title, body, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&reply.id)
        .bind(&reply.team_id)
        .bind(&reply.title)
        .bind(&reply.body)
        .bind(&reply.created_by)
        .bind(reply.created_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn delete_saved_reply(&self, id: &str, teams: &[String]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM saved_replies WHERE id = $1 AND team_id = ANY($2)")
            .bind(id)
            .bind(teams)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn authentication_report(
        &self,
        days: &[ReportDay],
        apps: Option<&[String]>,
    ) -> StoreResult<Vec<ReportRow>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
        let starts: Vec<i64> = days.iter().map(|d| d.start_ms).collect();
        let ends: Vec<i64> = days.iter().map(|d| d.end_ms).collect();
        // As on SQLite.
        let rows: Vec<(String, String, i64, i64, i64, i64, i64, i64, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "WITH days AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) \
                    AS d (date, start_ms, end_ms)), \
                 per AS (SELECT d.date, c.app_id, c.rating, \
                    (SELECT m.trusted FROM messages m WHERE m.conversation_id = c.id \
                        AND m.author = 'customer' ORDER BY m.seq LIMIT 1) AS first_trusted, \
                    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                        AND m.author = 'customer' AND m.trusted) AS n_trusted, \
                    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id \
                        AND m.author = 'customer' AND NOT m.trusted) AS n_untrusted, \
                    ({GAVE_NAME_AND_CONTACT}) AS gave \
                    FROM days d JOIN conversations c ON c.created_at >= d.start_ms AND c.created_at < d.end_ms \
                    WHERE $4::text[] IS NULL OR c.app_id = ANY($4)) \
                 SELECT date, app_id, \
                    COUNT(*) FILTER (WHERE first_trusted) AS trusted_from_start, \
                    COUNT(*) FILTER (WHERE NOT COALESCE(first_trusted, FALSE) AND n_trusted > 0) AS upgraded, \
                    COUNT(*) FILTER (WHERE n_trusted = 0 AND gave) AS identified, \
                    COUNT(*) FILTER (WHERE n_trusted = 0 AND NOT gave) AS anonymous, \
                    COALESCE(SUM(n_trusted), 0)::bigint AS messages_trusted, \
                    COALESCE(SUM(n_untrusted), 0)::bigint AS messages_untrusted, \
                    COALESCE(SUM(rating), 0)::bigint AS rating_sum, COUNT(rating) AS rating_count \
                 FROM per GROUP BY date, app_id ORDER BY date, app_id COLLATE \"C\""
            )))
            .bind(dates)
            .bind(starts)
            .bind(ends)
            .bind(apps)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    date,
                    app_id,
                    trusted_from_start,
                    upgraded,
                    identified,
                    anonymous,
                    messages_trusted,
                    messages_untrusted,
                    rating_sum,
                    rating_count,
                )| ReportRow {
                    date,
                    app_id,
                    trusted_from_start,
                    upgraded,
                    identified,
                    anonymous,
                    messages_trusted,
                    messages_untrusted,
                    rating_sum,
                    rating_count,
                },
            )
            .collect())
    }

    async fn open_conversation_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT assigned_agent_id, COUNT(*) FROM conversations \
             WHERE status = 'open' AND assigned_agent_id IS NOT NULL GROUP BY assigned_agent_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }

    async fn conversation_views(
        &self,
        filter: ConversationFilter,
        now: i64,
    ) -> StoreResult<Vec<ConversationView>> {
        let (condition, order) = match &filter {
            ConversationFilter::Id(_) => ("c.id = $2", "c.rowid"),
            ConversationFilter::AssignedTo(_) => (
                "c.assigned_agent_id = $2",
                "c.status = 'open' DESC, c.last_activity_at DESC, c.rowid DESC",
            ),
            ConversationFilter::Customer(_) => {
                ("c.customer_id = $2", "c.created_at DESC, c.rowid DESC")
            }
            ConversationFilter::Queue => (
                "c.status = 'open' AND c.assigned_agent_id IS NULL",
                "c.priority, c.created_at, c.rowid",
            ),
            // As on SQLite, through the GIN indexes of migration 0004
            // (the same expressions).
            ConversationFilter::Search(_) => (
                "(c.id IN (SELECT m.conversation_id FROM messages m \
                    WHERE to_tsvector('simple', m.body) @@ to_tsquery('simple', $2)) \
                 OR c.customer_id IN (SELECT x.id FROM customers x WHERE to_tsvector('simple', \
                    coalesce(x.name, '') || ' ' || coalesce(x.email, '') || ' ' || \
                    replace(coalesce(x.phone, ''), '+', '')) @@ to_tsquery('simple', $2))) \
                 AND ($3::text[] IS NULL OR c.app_id = ANY($3))",
                "c.last_activity_at DESC, c.rowid DESC LIMIT $4",
            ),
        };
        if let ConversationFilter::Search(search) = &filter {
            if ts_query(&search.terms).is_empty() {
                return Ok(Vec::new());
            }
        }
        // As on SQLite: the assigned agent's read marker counts; verified
        // while proven and a live session of the customer holds an
        // unexpired proof.
        let sql = format!(
            "SELECT c.id, c.app_id, c.customer_id, c.session_id, c.proven, c.status, c.created_at, \
             c.closed_at, c.last_seq, c.assigned_agent_id, c.last_activity_at, c.team_id, \
             c.priority, c.rule, c.held_until, c.rating, c.rating_comment, c.rated_at, \
             c.customer_read_seq, \
             cu.app_id AS cu_app_id, cu.sub AS cu_sub, cu.name AS cu_name, cu.email AS cu_email, \
             cu.phone AS cu_phone, cu.created_at AS cu_created_at, cu.updated_at AS cu_updated_at, \
             o.display_name AS given_name, o.display_email AS given_email, \
             o.display_phone AS given_phone, o.page_url AS given_page, \
             (SELECT m.body FROM messages m WHERE m.conversation_id = c.id AND m.seq = c.last_seq) AS last_body, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'customer' \
                AND m.seq > COALESCE((SELECT r.seq FROM agent_reads r \
                    WHERE r.agent_id = c.assigned_agent_id AND r.conversation_id = c.id), 0)) AS unread, \
             (c.proven AND EXISTS (SELECT 1 FROM sessions s WHERE s.customer_id = c.customer_id \
                AND s.revoked_at IS NULL AND s.trusted \
                AND (s.trusted_until IS NULL OR s.trusted_until > $1))) AS verified \
             FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             LEFT JOIN sessions o ON o.id = c.session_id \
             WHERE {condition} ORDER BY {order}"
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        let query = match &filter {
            ConversationFilter::Id(key)
            | ConversationFilter::AssignedTo(key)
            | ConversationFilter::Customer(key) => query.bind(key.clone()),
            ConversationFilter::Queue => query,
            ConversationFilter::Search(search) => query
                .bind(ts_query(&search.terms))
                .bind(search.apps.clone())
                .bind(search.limit),
        };
        query
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|row| {
                use sqlx::Row as _;
                let conversation = conversation_from_row(row)?;
                let get = |column: &str| row.try_get::<Option<String>, _>(column).map_err(db);
                Ok(ConversationView {
                    customer: CustomerRecord {
                        id: conversation.customer_id.clone(),
                        app_id: row.try_get("cu_app_id").map_err(db)?,
                        sub: get("cu_sub")?,
                        name: get("cu_name")?,
                        email: get("cu_email")?,
                        phone: get("cu_phone")?,
                        created_at: row.try_get("cu_created_at").map_err(db)?,
                        updated_at: row.try_get("cu_updated_at").map_err(db)?,
                    },
                    given: GivenIdentity {
                        name: get("given_name")?,
                        email: get("given_email")?,
                        phone: get("given_phone")?,
                        page_url: get("given_page")?,
                    },
                    conversation,
                    last_body: get("last_body")?,
                    unread: row.try_get("unread").map_err(db)?,
                    verified: row.try_get("verified").map_err(db)?,
                })
            })
            .collect()
    }

    async fn set_session_page(&self, session_id: &str, page_url: &str) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET page_url = $1 WHERE id = $2")
            .bind(page_url)
            .bind(session_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_session_locales(&self, session_id: &str, locales: &[String]) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET locales = $1 WHERE id = $2")
            .bind(crate::store::locales_str(locales))
            .bind(session_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn proven_customer_locales(&self, customer_id: &str) -> StoreResult<Vec<String>> {
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT locales FROM sessions \
             WHERE customer_id = $1 AND sub IS NOT NULL AND locales IS NOT NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(crate::store::parse_locales(stored))
    }

    async fn mark_customer_read(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE conversations SET customer_read_seq = LEAST($1, last_seq) \
             WHERE id = $2 AND customer_read_seq < LEAST($1, last_seq) RETURNING customer_read_seq",
        )
        .bind(seq)
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn agent_read_seq(&self, agent_id: &str, conversation_id: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT seq FROM agent_reads WHERE agent_id = $1 AND conversation_id = $2",
        )
        .bind(agent_id)
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .unwrap_or(0))
    }

    async fn claim_due_email(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<EmailClaim>> {
        // SKIP LOCKED: servers claiming at once take different rows; the
        // row lock re-checks the due time, so a row claimed and committed
        // meanwhile is not due any more.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE conversations SET email_due_at = $1 \
             WHERE id = (SELECT id FROM conversations WHERE email_due_at <= $2 \
                         ORDER BY email_due_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             AND email_due_at <= $2 \
             RETURNING {CONVERSATION_COLUMNS}, emailed_seq, email_attempts"
        )))
        .bind(lease_until_ms)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| {
            use sqlx::Row as _;
            Ok(EmailClaim {
                conversation: conversation_from_row(&row)?,
                emailed_seq: row.try_get("emailed_seq").map_err(db)?,
                attempts: row.try_get("email_attempts").map_err(db)?,
                lease_until: lease_until_ms,
            })
        })
        .transpose()
    }

    async fn finish_email(
        &self,
        conversation_id: &str,
        lease_until: i64,
        done: &EmailDone,
        now_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE conversations SET emailed_seq = GREATEST(emailed_seq, $1), \
             email_attempts = CASE WHEN email_due_at = $2 THEN $3 ELSE email_attempts END, \
             email_due_at = CASE WHEN email_due_at = $2 \
                 THEN COALESCE($4::BIGINT, CASE WHEN last_seq > $5 THEN $6::BIGINT END) \
                 ELSE email_due_at END \
             WHERE id = $7",
        )
        .bind(done.handled_seq)
        .bind(lease_until)
        .bind(done.attempts)
        .bind(done.next_due_at)
        .bind(done.seen_seq)
        .bind(now_ms)
        .bind(conversation_id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn next_email_due(&self) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "SELECT email_due_at FROM conversations WHERE email_due_at IS NOT NULL \
             ORDER BY email_due_at LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)
    }

    async fn emails_pending(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE email_due_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn enqueue_webhook_deliveries(&self, deliveries: &[NewDelivery]) -> StoreResult<()> {
        webhooks::enqueue(&self.pool, deliveries).await
    }

    async fn claim_webhook_delivery(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> StoreResult<Option<DeliveryClaim>> {
        webhooks::claim(&self.pool, now_ms, lease_until_ms).await
    }

    async fn finish_webhook_delivery(
        &self,
        seq: i64,
        lease_until: i64,
        done: &DeliveryDone,
    ) -> StoreResult<bool> {
        webhooks::finish(&self.pool, seq, lease_until, done).await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<i64>> {
        webhooks::next_due(&self.pool).await
    }

    async fn webhook_deliveries(
        &self,
        app_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        webhooks::recent(&self.pool, app_id, limit).await
    }

    async fn webhook_delivery_counts(&self) -> StoreResult<WebhookCounts> {
        webhooks::counts(&self.pool).await
    }

    async fn prune_webhook_deliveries(&self, before_ms: i64) -> StoreResult<u64> {
        webhooks::prune(&self.pool, before_ms).await
    }

    async fn mark_read(&self, agent_id: &str, conversation_id: &str, seq: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_reads (agent_id, conversation_id, seq) VALUES ($1, $2, $3) \
             ON CONFLICT (agent_id, conversation_id) \
             DO UPDATE SET seq = GREATEST(agent_reads.seq, excluded.seq)",
        )
        .bind(agent_id)
        .bind(conversation_id)
        .bind(seq)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn routing_lock(&self) -> StoreResult<RoutingGuard> {
        routing::lock(&self.pool, &self.routing).await
    }

    async fn set_presence(
        &self,
        server_id: &str,
        agent_ids: &[String],
        expires_at_ms: i64,
    ) -> StoreResult<()> {
        // One statement: the server's other agents go, these are
        // (re)written; the two touch different rows.
        sqlx::query(
            "WITH gone AS ( \
                 DELETE FROM agent_presence WHERE server_id = $1 AND NOT (agent_id = ANY($2)) \
             ) \
             INSERT INTO agent_presence (server_id, agent_id, expires_at) \
             SELECT DISTINCT $1, agent_id, $3::BIGINT FROM unnest($2::TEXT[]) AS agent_id \
             ON CONFLICT (server_id, agent_id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(server_id)
        .bind(agent_ids)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn online_agents(&self, now_ms: i64) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT DISTINCT agent_id FROM agent_presence WHERE expires_at > $1")
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    async fn remember_jti(
        &self,
        app_id: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> StoreResult<bool> {
        sqlx::query("DELETE FROM used_jtis WHERE keep_until < $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        // The insert alone decides, atomically on every server: of two
        // concurrent inserts of one id, the second waits for the first to
        // commit and then writes nothing. An id kept until before `now`
        // that the delete above has not seen yet counts as new.
        let new = sqlx::query(
            "INSERT INTO used_jtis (app_id, jti, keep_until) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id, jti) DO UPDATE SET keep_until = excluded.keep_until \
             WHERE used_jtis.keep_until < $4",
        )
        .bind(app_id)
        .bind(jti)
        .bind(keep_until)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected()
            == 1;
        Ok(new)
    }

    async fn customer_data(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
    ) -> StoreResult<CustomerData> {
        self.read_customer_data(app_id, matching).await
    }

    async fn erase_customers(
        &self,
        app_id: &str,
        matching: &CustomerMatch,
        actor: &AuditActor,
    ) -> StoreResult<Erased> {
        self.erase(app_id, matching, actor).await
    }

    async fn purge_closed_conversations(
        &self,
        app_id: &str,
        closed_before_ms: i64,
        limit: i64,
    ) -> StoreResult<Purged> {
        self.purge(app_id, closed_before_ms, limit).await
    }

    async fn record_audit(&self, entry: &AuditRecord) -> StoreResult<()> {
        self.insert_audit(entry).await
    }

    async fn audit_log(&self, app_id: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        self.read_audit_log(app_id, limit).await
    }

    async fn ping(&self) -> StoreResult<()> {
        let answered =
            tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.pool))
                .await
                .map_err(|_| StoreError::Database("the database did not answer in time".into()))?;
        answered.map_err(db).map(|_| ())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
