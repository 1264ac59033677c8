//! docs/PRIVACY.md stays the truth about what is stored: every column of
//! the schema that can hold text (text, arrays, JSON, bytes, addresses)
//! has its row in the page's "Columns" table, and every row there names a
//! column that exists. A new column is documented in the commit that adds
//! it, or this fails naming it.

use std::collections::BTreeSet;

use sqlx::PgPool;

/// The `table.column` rows of docs/PRIVACY.md's "Columns" table.
fn documented() -> BTreeSet<String> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PRIVACY.md"))
        .expect("docs/PRIVACY.md");
    let columns = page
        .split("\n## ")
        .find(|section| section.starts_with("Columns"))
        .expect("a Columns section");
    columns
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(column, _)| column.to_owned())
        .collect()
}

#[sqlx::test(migrator = "estrade_db::MIGRATOR")]
async fn every_column_that_can_hold_text_is_in_the_privacy_page_and_no_other(db: PgPool) {
    let stored: BTreeSet<String> = sqlx::query_scalar(
        "select table_name || '.' || column_name from information_schema.columns
          where table_schema = 'public' and table_name <> '_sqlx_migrations'
            and data_type in ('text', 'character varying', 'character', 'ARRAY', 'json',
                              'jsonb', 'bytea', 'inet', 'cidr', 'USER-DEFINED')",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let documented = documented();
    assert!(
        stored.len() > 30,
        "the schema has its text columns: {stored:?}"
    );
    let missing: Vec<&String> = stored.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "columns with no row in docs/PRIVACY.md (say what they hold, whether it is personal, how it is erased): {missing:?}"
    );
    let stale: Vec<&String> = documented.difference(&stored).collect();
    assert!(
        stale.is_empty(),
        "docs/PRIVACY.md rows for columns that do not exist: {stale:?}"
    );
}
