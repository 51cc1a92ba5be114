//! Arguments of every command, and dispatch.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kanta_core::Core;
use kanta_core::config::{Config, LoadOptions};
use kanta_core::jobs::Workers;
use kanta_store::Store;

/// Kanta keeps a business's customers: who is slipping away, whom to contact and
/// why, what each customer is worth.
#[derive(Debug, Parser)]
#[command(name = "kanta", version, about, long_about = None)]
pub struct Cli {
    /// Data folder of the embedded SQLite store (default ./kanta-data; the setting
    /// store.data).
    #[arg(long, global = true, env = "KANTA_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Database URL instead of the data folder: postgres://USER@HOST/DB or sqlite://PATH.
    #[arg(
        long,
        global = true,
        env = "KANTA_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// A settings file (TOML) instead of kanta.toml in the data folder.
    #[arg(long, global = true, env = "KANTA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store (data folder and database) or bring its schema up to date.
    Init,
    /// Import a CSV, JSON Lines or whitespace-separated file of one entity.
    Import(ImportArgs),
    /// Count the records of every entity.
    Stats(JsonArg),
    /// List and show customers.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Build a store with demo data (a café and a B2B firm), then serve it.
    Demo(DemoArgs),
    /// Serve the web UI and the API.
    Serve(ServeArgs),
    /// Fit a customer-value model to a CSV of lifetimes-style summaries.
    Fit(FitArgs),
    /// Per-customer frequency, recency, T and monetary_value of a transaction file.
    Summary(SummaryArgs),
    /// Add per-customer predictions of a fitted model to a CSV.
    Predict(PredictArgs),
    /// Fit on a calibration period and compare the forecast with a holdout period.
    Validate(ValidateArgs),
    /// Score the store's customers: choose and fit the models on its transactions,
    /// store a model run with each customer's P(alive), expected purchases, CLV and
    /// value tier.
    Score(ScoreArgs),
    /// Staff users who sign in to the web UI.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for other systems.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The settings: where each value comes from, and a documented example.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Read the audit log: who changed what, when and from where.
    Audit(AuditArgs),
    /// Background jobs: queued, running, done and failed; retry a failed one.
    Jobs(JobsArgs),
    /// Mail: send a test message through the outbox.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Reports on the store's customers.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Cases: run the SLA check now (what `kanta serve` does every 5 minutes).
    #[command(subcommand)]
    Cases(CasesCommand),
    /// The health scorecard on a CSV file: fit it with a holdout report, or score rows
    /// with a saved one.
    #[command(subcommand)]
    Health(HealthCommand),
    /// Whom to contact today, and why: the contact queue by value at risk (`kanta
    /// queue refresh` recomputes it).
    Queue(crate::commands::queue::QueueArgs),
    /// Surveys: list, show, create, activate, close, links, waves and the invitation log.
    #[command(subcommand)]
    Survey(crate::commands::survey::SurveyCommand),
    /// Ending customer relationships cleanly: propose, approve, refuse, cancel, list, due.
    #[command(subcommand)]
    Ending(crate::commands::ending::EndingCommand),
    /// Themes in the free-text answers: find them now, list, rename, merge, split.
    #[command(subcommand)]
    Themes(crate::commands::themes::ThemesCommand),
    /// Offers with a control group: list, send (`kanta report offer ID` for the uplift).
    #[command(subcommand)]
    Offer(crate::commands::offer::OfferCommand),
    /// Everything Kanta holds about one customer (GDPR access and portability), as
    /// JSON or, with --out FILE.zip, a zip of CSVs with a summary in their language.
    ExportCustomer(crate::commands::privacy::ExportArgs),
    /// Erase one customer's personal data everywhere (GDPR erasure); their orders still
    /// count in the figures, under a random id.
    EraseCustomer(crate::commands::privacy::EraseArgs),
    /// A customer's consent ledger: every change of consent, with its source, wording
    /// version and address.
    Consent(crate::commands::privacy::ConsentArgs),
    /// Write a consistent copy of the whole store to FILE while it keeps serving
    /// (SQLite: VACUUM INTO; PostgreSQL: pg_dump).
    Backup(crate::commands::privacy::BackupArgs),
    /// Replace the store's contents by a backup (stop `kanta serve` first).
    Restore(crate::commands::privacy::RestoreArgs),
    /// Apply the retention schedules now, or with --dry-run list what they would remove.
    Retention(crate::commands::privacy::RetentionArgs),
}

#[derive(Debug, Subcommand)]
pub enum HealthCommand {
    /// Fit a scorecard (binned logistic regression) of a yes/no column on the other
    /// columns; print the mean holdout AUC, Brier and log-loss over repeated
    /// stratified holdouts (10 by default), calibration, and every feature's bins and
    /// weights of the scorecard fitted on all rows.
    Fit(HealthFitArgs),
    /// Score each row of a file with a saved scorecard: probability, health score
    /// 0-100 and the factors that move it most.
    Predict(HealthPredictArgs),
    /// Score every customer of the store's health now (what the daily job does): the
    /// weights learned from the store's own history, or expert weights while churn
    /// events are few; prints the method, why, and the holdout's AUC and Brier score.
    Refresh(HealthRefreshArgs),
    /// Print the health model in use: method and why, validation and every feature's
    /// bins with their points.
    Model(JsonArg),
}

#[derive(Debug, Args)]
pub struct HealthRefreshArgs {
    /// The day to score as of (YYYY-MM-DD or 31.12.2024). Default: today in the
    /// store's time zone.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HealthFitArgs {
    /// A CSV file with a header: the target column and any numeric and categorical
    /// columns (blank cells are missing values).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The yes/no column to predict (Yes/No, 1/0, true/false, kyllä/ei).
    #[arg(long, value_name = "COLUMN")]
    pub target: String,
    /// A column that names the row (not a feature).
    #[arg(long, value_name = "COLUMN")]
    pub id: Option<String>,
    /// Columns that identify rather than describe (row numbers, names): not features.
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Share of rows held out for validation (stratified random split).
    #[arg(long, default_value_t = 0.3)]
    pub holdout: f64,
    /// Seed of the first split and the cross-validation folds; split k (from 0) of
    /// --repeats uses seed + k.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Validate on this many stratified holdouts (seeds seed, seed+1, ...) and report
    /// the mean AUC, Brier and log-loss with the AUC's sd, min and max; 1 is a single
    /// split. The penalty is chosen by cross-validation on the first split's training
    /// rows and reused for the others and the final fit on all rows.
    #[arg(long, default_value_t = 10)]
    pub repeats: usize,
    /// At most this many bins per numeric column.
    #[arg(long, default_value_t = 10)]
    pub max_bins: usize,
    /// The L2 penalty; chosen by cross-validation when absent.
    #[arg(long)]
    pub l2: Option<f64>,
    /// Write the first split's held-out rows' ids (the --id column, else 1-based row
    /// numbers), one per line under a header line, e.g. to validate another model on
    /// the same split (the split of --seed; --repeats 1 makes it the whole report's).
    #[arg(long, value_name = "FILE")]
    pub split_out: Option<PathBuf>,
    /// Save the scorecard fitted on all rows (JSON) for kanta health predict.
    #[arg(long, value_name = "MODEL.json")]
    pub save: Option<PathBuf>,
    /// Print one JSON object (auc, the mean holdout AUC, first; then auc_sd, auc_min,
    /// auc_max, brier, log_loss, repeats, splits, n_train, n_holdout, events,
    /// calibration, features, ...).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HealthPredictArgs {
    /// A scorecard saved by kanta health fit --save.
    #[arg(long, value_name = "MODEL.json")]
    pub model: PathBuf,
    /// A CSV file with the model's columns.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The column that names each row (default: the model's --id when the file has
    /// it, else row numbers).
    #[arg(long, value_name = "COLUMN")]
    pub id: Option<String>,
    /// How many factors to show per row.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Print JSON instead of CSV.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// Give cases written without SLA due times theirs, warn owners of targets near
    /// and managers of breaches (once per case and step, by mail through the outbox),
    /// as the `cases.sla` job does; prints what it did.
    SlaCheck(JsonArg),
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Customers who had a case, by how their first case ended (within SLA, late,
    /// not resolved; our fault or not), against customers who never had one:
    /// retention, repurchase within 90 and 180 days and revenue in the 12 months
    /// after, with 95% intervals.
    Recovery(RecoveryArgs),
    /// Contacts per staff member and month (store time zone) and the share of them
    /// that were proactive and not about sales or renewal, with 95% intervals.
    Contacts(ContactsArgs),
    /// Feedback: NPS, CSAT and CES by month or quarter with 95% intervals, response
    /// rates, themes with their answers' ids, detractor drivers and word-of-mouth reach.
    Feedback(crate::commands::feedback_report::FeedbackReportArgs),
    /// Retention economics: what five more points of 12-month retention are worth
    /// (from the newest model run, with a 95% interval), the costs of winning and of
    /// keeping a customer, and churn reasons by journey stage.
    Economics(crate::commands::economics::EconomicsArgs),
    /// Profitability: revenue, gross margin, cost to serve by component and margin
    /// after it per customer over 12 months, the margin distribution and the
    /// unprofitable customers with their reasons (--refresh runs the pass first).
    Value(crate::commands::value::ValueArgs),
    /// An offer's uplift: purchase rate, orders and revenue per customer in the offer
    /// group against the control group, absolute (Welch) and relative (delta method)
    /// with 95% intervals, net of the offer's cost, or "not enough data yet".
    Offer(crate::commands::offer::ReportOfferArgs),
}

#[derive(Debug, Args)]
pub struct ContactsArgs {
    /// Months back, this one included (1-36).
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RecoveryArgs {
    /// The report's day (YYYY-MM-DD or 31.12.2024); later data are ignored. Default:
    /// today in the store's time zone.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Only customers of this segment (`customers.segment`, e.g. kahvila).
    #[arg(long, value_name = "SEGMENT")]
    pub segment: Option<String>,
    /// Only customers of this kind: person or company.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting's effective value and where it came from (secrets hidden).
    Show(JsonArg),
    /// Print a documented example kanta.toml with every setting and its default.
    Example,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries from this day or time on (2024-12-31, 31.12.2024 or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only entries up to this day or time.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only this actor (a user's email, a token's name, a file, an OS user, a job).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this entity (customers, transactions, users, settings, ...).
    #[arg(long)]
    pub entity: Option<String>,
    /// Only this record (its id).
    #[arg(long)]
    pub record: Option<String>,
    /// Entries to show, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
    /// Only jobs of this status: queued, running, done or failed.
    #[arg(long)]
    pub status: Option<String>,
    /// Jobs to show, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Queue a failed job again (its attempts start over).
    Retry { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Queue a test message to ADDRESS in the outbox and try to send it now; a
    /// failure is retried by kanta serve's workers.
    Test {
        address: String,
        /// The message's language: fi or en (default: the store's language).
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// bgnbd, mbgnbd, pnbd, bgbb, gg or sbg.
    #[arg(long)]
    pub model: String,
    /// CSV with frequency,recency,T (bgnbd, mbgnbd, pnbd), frequency,monetary_value
    /// (gg), frequency,recency,periods (bgbb) or period,alive (sbg).
    #[arg(long)]
    pub input: PathBuf,
    /// A column giving how many customers each row stands for.
    #[arg(long, value_name = "NAME")]
    pub weights_column: Option<String>,
    /// Print one JSON object: model, params, std_errors, log_likelihood, n,
    /// converged, iterations, seconds.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// A CSV of transactions: customer_id, occurred_at and (optionally) amount columns.
    #[arg(long)]
    pub transactions: PathBuf,
    /// Take a field from a column: SOURCE is a header name or a 1-based column
    /// number, FIELD one of customer_id, occurred_at, amount (repeatable).
    #[arg(long = "map", value_name = "SOURCE=FIELD")]
    pub map: Vec<String>,
    /// Column delimiter: a character or 'tab'. Sniffed from the first line when absent.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The first line is data, not column names.
    #[arg(long)]
    pub no_header: bool,
    /// strftime format of the times, e.g. %Y%m%d (ISO 8601 and 31.12.2024 need none).
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// The last day of the calibration period (the summary's "now").
    #[arg(long, value_name = "DATE")]
    pub calibration_end: String,
    /// The last day of a holdout period: adds frequency_holdout and duration_holdout.
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<String>,
    /// Time unit of recency, T and duration: day, week or month.
    #[arg(long, default_value = "day")]
    pub unit: String,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// bgnbd, mbgnbd or pnbd.
    #[arg(long)]
    pub model: String,
    /// A CSV of transactions: customer_id, occurred_at and (optionally) amount columns.
    #[arg(long)]
    pub transactions: PathBuf,
    /// Take a field from a column: SOURCE=FIELD, as for kanta summary (repeatable).
    #[arg(long = "map", value_name = "SOURCE=FIELD")]
    pub map: Vec<String>,
    /// Column delimiter: a character, 'tab' or 'whitespace'. Sniffed when absent.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The first line is data, not column names.
    #[arg(long)]
    pub no_header: bool,
    /// strftime format of the times, e.g. %Y%m%d.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// The last day of the calibration period.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: String,
    /// The last day of the holdout period.
    #[arg(long, value_name = "DATE")]
    pub holdout_end: String,
    /// Time unit: day, week or month.
    #[arg(long, default_value = "week")]
    pub unit: String,
    /// Print one JSON object: the fit, the holdout metrics and the tracking series.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// bgnbd, mbgnbd, pnbd, bgbb, gg or sbg.
    #[arg(long)]
    pub model: String,
    /// The parameters: JSON inline, or a file (@FILE) such as `kanta fit --json` wrote.
    #[arg(long)]
    pub params: String,
    /// The customers (columns as for kanta fit); written back with prediction columns.
    #[arg(long)]
    pub input: PathBuf,
    /// How far ahead, in the data's time units (periods for bgbb and sbg).
    #[arg(long)]
    pub horizon: f64,
    /// Gamma-Gamma parameters (JSON or @FILE): adds expected_spend and clv over the
    /// horizon (the input then needs monetary_value).
    #[arg(long, value_name = "JSON")]
    pub spend_params: Option<String>,
    /// The data's time unit, for CLV's monthly discounting: day, week or month.
    #[arg(long, default_value = "week")]
    pub unit: String,
    /// Discount rate per month for CLV (0.01 = 1%).
    #[arg(long, default_value_t = 0.01)]
    pub discount_rate: f64,
    /// Share of revenue that is profit, for CLV (1 = revenue).
    #[arg(long, default_value_t = 1.0)]
    pub margin: f64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (the first admin: kanta user add EMAIL --role admin).
    Add(UserAddArgs),
    /// Give a user a new password (made up and printed, or read from stdin).
    Passwd(UserPasswdArgs),
    /// List the users.
    List(JsonArg),
    /// Let a user sign in again at once from every address, after failed sign-ins
    /// slowed them down.
    Unlock(UserUnlockArgs),
    /// Turn a user's two-factor sign-in off (they lost their authenticator and
    /// recovery codes); their sessions end. Where the settings require it for their
    /// role, they set it up again at their next sign-in.
    ResetTwoFactor(UserUnlockArgs),
}

#[derive(Debug, Args)]
pub struct UserUnlockArgs {
    pub email: String,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    pub email: String,
    /// admin, manager, staff or viewer.
    #[arg(long)]
    pub role: String,
    /// The name shown in the UI (default: the email's local part).
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from the first line of stdin instead of making one up.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UserPasswdArgs {
    pub email: String,
    /// Read the password from the first line of stdin instead of making one up.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; it is printed once.
    Create(TokenCreateArgs),
    /// List the tokens (never the secrets).
    List(JsonArg),
    /// Revoke a token by its id.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// What the token is for, e.g. 'web shop'.
    pub name: String,
    /// admin, manager, staff or viewer.
    #[arg(long)]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds: customers, contacts, transactions, subscriptions,
    /// interactions, cases, claims, feedback, usage, staff or trust.
    pub entity: String,
    /// The file to import.
    pub file: PathBuf,
    /// Take a field from a column: SOURCE is a header name or a 1-based column
    /// number, FIELD a field of the entity (repeatable).
    #[arg(long = "map", value_name = "SOURCE=FIELD")]
    pub map: Vec<String>,
    /// Column delimiter: a character (, ; | tab) or 'whitespace'. Sniffed when absent.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// File format: csv, jsonl or whitespace. From the extension when absent.
    #[arg(long)]
    pub format: Option<String>,
    /// The first line is data, not column names.
    #[arg(long)]
    pub no_header: bool,
    /// strftime format of dates and times, e.g. %Y%m%d (ISO 8601 and 31.12.2024 need none).
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// Currency of money in files that carry none (default: the store's currency).
    #[arg(long)]
    pub currency: Option<String>,
    /// Import the valid rows and write the rejected ones, with reasons, to a reject file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where --skip-invalid writes rejected rows (default FILE.rejects.csv).
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
    /// Only validate; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// A page of customers, with filters.
    List(ListArgs),
    /// One customer: their record, figures, contacts, subscriptions, newest scores and
    /// timeline (newest first).
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Part of the name, email or id.
    #[arg(long, short = 's')]
    pub search: Option<String>,
    /// Only customers of this segment (as the business names them; exact match).
    #[arg(long)]
    pub segment: Option<String>,
    /// active or ended.
    #[arg(long)]
    pub status: Option<String>,
    /// person or company.
    #[arg(long)]
    pub kind: Option<String>,
    /// Value tier: A, B, C or D.
    #[arg(long)]
    pub tier: Option<String>,
    /// deficit (trust balance below zero) or credit (above zero).
    #[arg(long)]
    pub trust: Option<String>,
    /// Only customers with open cases.
    #[arg(long)]
    pub open_cases: bool,
    /// name, id, newest, revenue, last-purchase, clv, p-alive, renewal-probability,
    /// trust, open-cases, mrr or renewal.
    #[arg(long, default_value = "name")]
    pub sort: String,
    /// Customers per page.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    /// Print the page as JSON (the total and each customer's figures) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The customer's id (their external id).
    pub id: String,
    /// Events of the timeline to show, newest first.
    #[arg(long, default_value_t = 50)]
    pub events: u32,
    /// Print the customer, figures, contacts, subscriptions, scores and timeline as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the generator: the same seed and date give the same data.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// The demo's last day (YYYY-MM-DD or 31.12.2024); default: yesterday in Helsinki, so
    /// that nothing in the demo is dated after now.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Only build the store; do not serve it.
    #[arg(long)]
    pub no_serve: bool,
    /// Address to serve on (default: the setting serve.bind, 127.0.0.1:8080).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The day to score at (YYYY-MM-DD or 31.12.2024); later data are ignored.
    /// Default: today (UTC).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Days at the end held out to choose between BG/NBD, MBG/NBD and Pareto/NBD
    /// by their error on them; 0 takes BG/NBD without a choice (default: the setting
    /// scoring.holdout_days, 91).
    #[arg(long)]
    pub holdout_days: Option<u32>,
    /// Use this model (bgnbd, mbgnbd or pnbd) instead of choosing.
    #[arg(long)]
    pub model: Option<String>,
    /// Share of revenue that is profit, for CLV (default: the setting scoring.margin, 1).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Discount rate per month for CLV (default: the setting scoring.discount_rate, 0.01).
    #[arg(long)]
    pub discount_rate: Option<f64>,
    /// Print the run as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to serve on (default: the setting serve.bind, 127.0.0.1:8080).
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Score the customers again (as `kanta score`) when the newest model run is this
    /// many hours old, and at start when there is none; 0 never does (default: the
    /// setting serve.score_every_hours, 24).
    #[arg(long, value_name = "HOURS")]
    pub score_every_hours: Option<f64>,
    /// Background job workers (default: the setting serve.workers, 2).
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
}

impl Cli {
    /// The settings: defaults, the settings file, `KANTA_SECTION__KEY` variables, then
    /// the global flags and `flags` (the command's own).
    pub fn settings(&self, flags: &[(&str, String)]) -> anyhow::Result<Config> {
        let mut overrides = Vec::new();
        if let Some(d) = &self.data {
            overrides.push(("store.data".to_string(), d.display().to_string()));
        }
        if let Some(u) = &self.database_url {
            overrides.push(("store.database_url".to_string(), u.clone()));
        }
        overrides.extend(flags.iter().map(|(k, v)| (k.to_string(), v.clone())));
        Ok(Config::load(&LoadOptions {
            file: self.config.clone(),
            data_dir_hint: None,
            // Lossily: std::env::vars() panics on a value that is not UTF-8.
            env: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            overrides,
        })?)
    }

    /// The database URL: the settings' `store.database_url`, else SQLite in the data
    /// folder.
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(self.settings(&[])?.database_url())
    }

    pub async fn open_store(&self) -> anyhow::Result<Store> {
        open_store(&self.settings(&[])?).await
    }

    /// The application core over the store, with the settings' store defaults.
    pub async fn open_core(&self) -> anyhow::Result<Core> {
        let config = self.settings(&[])?;
        core_of(&config).await
    }
}

/// Opens the store the settings name.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    let connections = config.store.connections;
    Store::open_with_connections(&url, (connections > 0).then_some(connections))
        .await
        .with_context(|| format!("cannot open the store at {}", kanta_store::redact(&url)))
}

/// The core over the store the settings name.
pub async fn core_of(config: &Config) -> anyhow::Result<Core> {
    let store = open_store(config).await?;
    Ok(Core::with_defaults(store, config.store_defaults.clone())
        .with_max_future_hours(config.store.max_future_hours)
        .trusting_proxies(config.serve.trusted_proxies.clone())
        .with_links(&config.serve.public_url, config.security.secret_key.clone()))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Init => {
            let store = cli.open_store().await?;
            println!("The store at {} is ready.", store.url());
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => crate::commands::import::run(&cli, args).await,
        Command::Stats(a) => {
            let store = cli.open_store().await?;
            let counts = store.counts().await?;
            if a.json {
                let map: serde_json::Map<String, serde_json::Value> = counts
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).into()))
                    .collect();
                crate::output::print_json(&map)?;
            } else {
                let rows: Vec<Vec<String>> = counts
                    .iter()
                    .map(|(k, v)| vec![(*k).to_string(), v.to_string()])
                    .collect();
                crate::output::table(&["entity", "records"], &rows, &[false, true]);
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Customers(CustomersCommand::List(a)) => {
            crate::commands::customers::list(&cli, a).await
        }
        Command::Customers(CustomersCommand::Show(a)) => {
            crate::commands::customers::show(&cli, a).await
        }
        Command::Demo(a) => crate::commands::demo::run(&cli, a).await,
        Command::Fit(a) => {
            crate::commands::fit::refuse_store_flags("fit")?;
            crate::commands::fit::fit(a)
        }
        Command::Predict(a) => {
            crate::commands::fit::refuse_store_flags("predict")?;
            crate::commands::fit::predict(a)
        }
        Command::Summary(a) => crate::commands::summary::run(a),
        Command::Validate(a) => {
            crate::commands::fit::refuse_store_flags("validate")?;
            crate::commands::fit::validate(a)
        }
        Command::Score(a) => crate::commands::score::run(&cli, a).await,
        Command::User(c) => crate::commands::users::user(&cli, c).await,
        Command::Token(c) => crate::commands::users::token(&cli, c).await,
        Command::Config(c) => crate::commands::admin::config(&cli, c),
        Command::Audit(a) => crate::commands::admin::audit(&cli, a).await,
        Command::Jobs(a) => crate::commands::admin::jobs(&cli, a).await,
        Command::Mail(c) => crate::commands::admin::mail(&cli, c).await,
        Command::Report(c) => crate::commands::report::run(&cli, c).await,
        Command::Health(c) => match c {
            // The store's health score.
            HealthCommand::Refresh(a) => crate::commands::health_store::refresh(&cli, a).await,
            HealthCommand::Model(a) => crate::commands::health_store::model(&cli, a).await,
            // The analyst's scorecard on a file, which uses no store.
            HealthCommand::Fit(a) => {
                crate::commands::fit::refuse_store_flags("health")?;
                crate::commands::health::fit(a)
            }
            HealthCommand::Predict(a) => {
                crate::commands::fit::refuse_store_flags("health")?;
                crate::commands::health::predict(a)
            }
        },
        Command::Queue(a) => crate::commands::queue::run(&cli, a).await,
        Command::Survey(c) => crate::commands::survey::run(&cli, c).await,
        Command::Ending(c) => crate::commands::ending::run(&cli, c).await,
        Command::Themes(c) => crate::commands::themes::run(&cli, c).await,
        Command::Offer(c) => crate::commands::offer::run(&cli, c).await,
        Command::ExportCustomer(a) => crate::commands::privacy::export(&cli, a).await,
        Command::EraseCustomer(a) => crate::commands::privacy::erase(&cli, a).await,
        Command::Consent(a) => crate::commands::privacy::consent(&cli, a).await,
        Command::Backup(a) => crate::commands::privacy::backup(&cli, a).await,
        Command::Restore(a) => crate::commands::privacy::restore(&cli, a).await,
        Command::Retention(a) => crate::commands::privacy::retention(&cli, a).await,
        Command::Cases(CasesCommand::SlaCheck(a)) => {
            crate::commands::cases::sla_check(&cli, a).await
        }
        Command::Serve(a) => {
            let mut flags = Vec::new();
            if let Some(b) = a.bind {
                flags.push(("serve.bind", b.to_string()));
            }
            if let Some(h) = a.score_every_hours {
                flags.push(("serve.score_every_hours", h.to_string()));
            }
            if let Some(w) = a.workers {
                flags.push(("serve.workers", w.to_string()));
            }
            let config = cli.settings(&flags)?;
            let core = core_of(&config).await?;
            serve(core, &config).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Serves the web UI and the API on the settings' address, with the background job
/// workers, until Ctrl-C or SIGTERM.
pub async fn serve(core: Core, config: &Config) -> anyhow::Result<()> {
    let bind = config.serve.bind;
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
        format!(
            "cannot listen on {bind} (is another kanta running there? choose another with --bind)"
        )
    })?;
    let addr = listener.local_addr()?;
    eprintln!(
        "Kanta is serving {} on http://{addr}/ (Ctrl-C stops it)",
        core.store().url()
    );
    if core.store().autovacuum_off().await? {
        tracing::warn!(
            "PostgreSQL runs with autovacuum = off: while serving, Kanta vacuums and analyses \
             its own tables once a minute by autovacuum's default rule; other programs' tables \
             on this server get nothing, so turn autovacuum on (its default) where you can"
        );
    }
    let workers = Workers::start(
        crate::commands::admin::job_services(&core, config)?,
        config.serve.workers,
    );
    kanta_web::serve(listener, core.clone()).await?;
    workers.stop().await;
    core.store().close().await;
    Ok(())
}
