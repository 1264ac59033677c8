//! The domain's enums as PostgreSQL stores them: text columns (each held to
//! its names by a check constraint) that rows decode straight into the
//! enum. A value the enum does not know fails the decode with
//! [`UnknownValue`](crate::domain::UnknownValue), naming it. Compiled with
//! the `sqlx` feature, which only the database crate turns on.

use sqlx::Postgres;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};

use crate::domain::{
    AccountRole, DeliveryStatus, FloorMode, InboxStatus, ParticipantKind, Presence, SessionStatus,
    TurnState,
};
use crate::outbound::Event;

macro_rules! stored_as_text {
    ($($ty:ty),+ $(,)?) => {$(
        impl sqlx::Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }

        impl sqlx::Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as sqlx::Encode<'_, Postgres>>::encode(self.as_str(), buf)
            }
        }
    )+};
}

stored_as_text!(
    AccountRole,
    SessionStatus,
    FloorMode,
    ParticipantKind,
    Presence,
    InboxStatus,
    TurnState,
    DeliveryStatus,
    Event,
);
