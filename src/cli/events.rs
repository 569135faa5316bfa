//! `catalyst events`: look at how articles were grouped into events, and undo a wrong
//! merge.

use anyhow::Context;
use clap::Subcommand;
use sqlx::PgPool;

use crate::ingest::story_store;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List an event's articles and why each is in it (first article, similarity, split).
    Show {
        /// Event id.
        id: i64,
    },
    /// Move articles out of an event into a new event. Both events' time and headline are
    /// recomputed from their articles; the split is recorded and never merged back.
    Split {
        /// Event id.
        id: i64,
        /// Article ids to move (repeat, or separate with commas).
        #[arg(long = "article", value_delimiter = ',', required = true, num_args = 1..)]
        articles: Vec<i64>,
    },
    /// Compute the story features of articles stored before stories existed, so new
    /// articles of the same story join their events. Their own events are not changed.
    BackfillStories,
    /// Recompute every stored article's tags (and their salience: subject or passing
    /// mention) with the tagging rules now loaded. Run after `catalyst taxonomy load` or
    /// after upgrading from a version without salience; then `catalyst study`.
    Retag,
}

pub async fn run(pool: &PgPool, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Show { id } => show(pool, id).await,
        EventsCommand::Retag => {
            let n = crate::ingest::retag_all(pool).await?;
            println!("retagged {n} article(s); run `catalyst study` to rescore");
            Ok(())
        }
        EventsCommand::BackfillStories => {
            let n = crate::ingest::backfill_stories(pool).await?;
            println!("story features computed for {n} article(s)");
            Ok(())
        }
        EventsCommand::Split { id, articles } => {
            let new_id = story_store::split(pool, id, &articles)
                .await
                .with_context(|| format!("splitting event {id}"))?;
            println!(
                "moved {} article(s) from event {id} to new event {new_id}",
                articles.len()
            );
            show(pool, id).await?;
            show(pool, new_id).await
        }
    }
}

async fn show(pool: &PgPool, id: i64) -> anyhow::Result<()> {
    let (headline, time, articles) = story_store::event_articles(pool, id)
        .await?
        .with_context(|| format!("there is no event {id}"))?;
    println!("event {id}: {headline}");
    println!(
        "  time {} (earliest article)",
        time.format("%Y-%m-%d %H:%M UTC")
    );
    for a in articles {
        let why = match (a.reason.as_deref(), a.similarity, a.matched_article_id) {
            (Some("similar"), Some(s), Some(m)) => format!("similar {s:.3} to article {m}"),
            (Some("similar"), Some(s), None) => format!("similar {s:.3}"),
            (Some("new"), _, _) => "first article".to_string(),
            (Some("split"), _, _) => "moved by a split".to_string(),
            (Some("backfill"), _, _) => "stored before stories (features backfilled)".to_string(),
            _ => "not recorded".to_string(),
        };
        println!(
            "  article {:>6}  {}  {:<20}  {:<28}  {}",
            a.article_id,
            a.published_at.format("%Y-%m-%d %H:%M"),
            a.source,
            why,
            a.title
        );
    }
    Ok(())
}
