//! Teaching sessions.

use estrade_core::domain::JoinCode;
use sqlx::PgConnection;
use uuid::Uuid;

/// The constraint that keeps join codes unique among sessions not ended.
pub const JOIN_CODE_CONSTRAINT: &str = "sessions_join_code_not_ended";

/// A newly created session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Primary key.
    pub id: Uuid,
    /// LiveKit room name.
    pub room_name: String,
    /// The code learners type.
    pub join_code: String,
}

/// Creates a scheduled session with a fresh join code, drawing again when
/// the code is taken by another session that is not ended.
pub async fn insert(
    conn: &mut PgConnection,
    teacher_id: Uuid,
    title: &str,
) -> Result<NewSession, sqlx::Error> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let id = Uuid::new_v4();
        let code = JoinCode::generate();
        // A savepoint, so a taken code does not abort the caller's transaction.
        let mut sp = sqlx::Connection::begin(&mut *conn).await?;
        let result = sqlx::query_as!(
            NewSession,
            "insert into sessions (id, teacher_id, title, room_name, join_code)
             values ($1, $2, $3, $4, $5)
             returning id, room_name, join_code",
            id,
            teacher_id,
            title,
            format!("estrade-{id}"),
            code.as_str(),
        )
        .fetch_one(&mut *sp)
        .await;
        match result {
            Ok(session) => {
                sp.commit().await?;
                return Ok(session);
            }
            Err(sqlx::Error::Database(e))
                if e.constraint() == Some(JOIN_CODE_CONSTRAINT) && attempts < 20 =>
            {
                sp.rollback().await?;
            }
            Err(e) => return Err(e),
        }
    }
}
