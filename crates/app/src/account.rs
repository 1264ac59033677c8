//! Who acts through an account (an admin or a teacher), and what it may
//! manage.

use estrade_core::domain::AccountRole;
use estrade_db::audit::Actor;
use uuid::Uuid;

use crate::Error;

/// An authenticated account.
#[derive(Debug, Clone)]
pub struct Account {
    /// The account.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// Admin or teacher.
    pub role: AccountRole,
}

impl Account {
    /// Whether this account may manage a session owned by `teacher_id`:
    /// admins manage every session, teachers their own;
    /// [`Error::NotFound`] otherwise, so existence is not revealed.
    pub fn can_manage(&self, teacher_id: Uuid) -> Result<(), Error> {
        if self.role == AccountRole::Admin || self.id == teacher_id {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// The audit actor for this account.
    pub fn actor(&self) -> Actor {
        Actor::Account(self.id)
    }
}
