//! The study run the pages show.

use sqlx::PgPool;

use crate::study::StudyParams;

/// The run pages show: the default parameters' run if complete, else the latest complete.
/// The rule lives in the `current_study_run` view, which analysts' views share.
pub async fn current_run(pool: &PgPool) -> Result<Option<(i64, StudyParams)>, sqlx::Error> {
    let row = sqlx::query!(r#"SELECT run_id AS "id!", params AS "params!" FROM current_study_run"#)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| {
        serde_json::from_value::<StudyParams>(r.params)
            .ok()
            .map(|p| (r.id, p))
    }))
}
