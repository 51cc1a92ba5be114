//! Every entity of the store, described as data.
//!
//! One description serves the migrations (a test checks that each backend's tables
//! have exactly these columns), the importer (field names, kinds, required fields),
//! the store's generic reads and writes, and the API. Each entity has an internal
//! integer `id`, an `external_id` that is the user's own id for the record (the
//! `id` field in files and the API), and `created_at`/`updated_at`.
//!
//! Adding an entity: describe it here, add a migration per backend, and the
//! importer, `kanta stats`, the timeline and the generic API pick it up.

/// What kind of value a field holds, and so how text is parsed into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A short text (trimmed; an empty text is no value).
    Text,
    /// Free text written by a person (kept as written, trimmed).
    LongText,
    /// A whole number within bounds.
    Int { min: i64, max: i64 },
    /// A real number.
    Float,
    /// Money: stored as integer minor units in `<name>_minor`, in the row's `currency`.
    Money,
    /// An ISO 4217 currency code.
    Currency,
    /// A calendar date.
    Date,
    /// A point in time (UTC).
    Timestamp,
    /// yes/no: accepts true/false, yes/no, kyllä/ei, 1/0, x.
    Bool,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// An email address.
    Email,
    /// A phone number (`value::Phone`: digits and the usual punctuation, 5-20 digits).
    Phone,
    /// The external id of a record of another entity (by its name).
    Ref(&'static str),
}

/// One field of an entity.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name used in files, on the command line and in the API.
    pub name: &'static str,
    /// The column in the database.
    pub column: &'static str,
    pub kind: Kind,
    /// Must be present in every row (for an import: mapped and non-empty).
    pub required: bool,
    /// The value the database gives when a row has none (as text to parse).
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// One entity (table) of the store.
#[derive(Debug)]
pub struct Entity {
    /// The name on the command line (`kanta import transactions`) and in the API.
    pub name: &'static str,
    /// Other names accepted on the command line.
    pub aliases: &'static [&'static str],
    pub table: &'static str,
    pub fields: &'static [Field],
    /// The field that places a record on the customer's timeline.
    pub time_field: Option<&'static str>,
    /// Records are never changed once written (the trust ledger).
    pub append_only: bool,
    /// An import creates missing referenced customers instead of rejecting the row.
    pub creates_customers: bool,
}

impl Entity {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field that refers to a customer, if the entity belongs to one.
    pub fn customer_field(&self) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| matches!(f.kind, Kind::Ref("customers")))
    }

    /// Columns the table has beyond `id`, `external_id`, the timestamps and the
    /// fields: derived values the store keeps (see [`CUSTOMER_TOTALS_COLUMNS`]).
    pub fn derived_columns(&self) -> &'static [&'static str] {
        match self.name {
            "customers" => CUSTOMER_TOTALS_COLUMNS,
            "cases" => CASE_DERIVED_COLUMNS,
            "claims" => CLAIM_DERIVED_COLUMNS,
            _ => &[],
        }
    }

    pub fn has_money(&self) -> bool {
        self.fields.iter().any(|f| f.kind == Kind::Money)
    }
}

const fn f(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        column: name,
        kind,
        required: false,
        default: None,
        doc,
    }
}

/// A field that falls back to `default` when a row leaves it empty.
const fn dflt(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        column: name,
        kind,
        required: false,
        default: Some(default),
        doc,
    }
}

const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        column: name,
        kind,
        required: true,
        default: None,
        doc,
    }
}

const fn money(
    name: &'static str,
    column: &'static str,
    required: bool,
    doc: &'static str,
) -> Field {
    Field {
        name,
        column,
        kind: Kind::Money,
        required,
        default: None,
        doc,
    }
}

const fn customer_ref(required: bool) -> Field {
    Field {
        name: "customer_id",
        column: "customer_id",
        kind: Kind::Ref("customers"),
        required,
        default: None,
        doc: "the customer's external id",
    }
}

const fn staff_ref(name: &'static str) -> Field {
    Field {
        name,
        column: "staff_id",
        kind: Kind::Ref("staff"),
        required: false,
        default: None,
        doc: "the staff member's external id",
    }
}

pub const CUSTOMER_KINDS: &[&str] = &["person", "company"];
pub const CUSTOMER_STATUSES: &[&str] = &["active", "ended"];
/// Why a relationship ended (seed 002): the reason codes of the "end cleanly" workflow.
pub const END_REASONS: &[&str] = &[
    "unprofitable",
    "breaks_agreements",
    "abusive",
    "moved_away",
    "other",
];
/// How an offer reaches its offer group: by mail through the outbox, by staff by
/// hand, or not at all (an A/A check: nobody is told).
pub const OFFER_CHANNELS: &[&str] = &["email", "manual", "none"];
/// Whom an offer goes to (the control group is drawn from the same customers).
pub const OFFER_AUDIENCES: &[&str] = &["everyone", "segment", "tier", "list", "queue"];
pub const OFFER_STATUSES: &[&str] = &["draft", "sent", "closed"];
pub const LOCALES: &[&str] = &["fi", "en"];
pub const TRANSACTION_KINDS: &[&str] = &["order", "refund"];

/// The kind of a transaction given without one: a negative amount is a refund,
/// anything else an order.
pub fn transaction_kind_for(amount_minor: i64) -> &'static str {
    if amount_minor < 0 { "refund" } else { "order" }
}
pub const PERIODS: &[&str] = &["week", "month", "quarter", "year"];
pub const INTERACTION_KINDS: &[&str] =
    &["call", "meeting", "email", "visit", "chat", "note", "other"];
/// Value tiers, best first: set by scoring or imported.
pub const TIERS: &[&str] = &["A", "B", "C", "D"];
/// Columns of `customers` that no file or form writes: per-customer totals of the
/// transactions, kept by the store's writer in the same transaction as the rows they
/// sum, so the customer list sorts by revenue and last purchase through an index.
/// `refunds_count` and `refunds_minor` are the refunds among the transactions.
/// `health_score` (0-100), `health_probability` (churn in the next 90 days) and
/// `health_change_30` (points since 30 days ago) are the daily health job's newest.
/// `mrr_minor`, `subscription_revenue_minor`, `next_renewal_on` and `plan` are the
/// customer's subscriptions' figures ([`crate::subscription::figures`]) as of the day
/// the writer or the daily refresh computed them. `erased_at` is when the customer's
/// personal data was erased (the core's erasure; the row stays, anonymised).
pub const CUSTOMER_TOTALS_COLUMNS: &[&str] = &[
    "transactions_count",
    "revenue_minor",
    "refunds_count",
    "refunds_minor",
    "first_purchase_at",
    "last_purchase_at",
    "mrr_minor",
    "subscription_revenue_minor",
    "next_renewal_on",
    "plan",
    "health_score",
    "health_probability",
    "health_change_30",
    "erased_at",
];
/// What a contact was about. A proactive contact whose purpose is not `sales` or
/// `renewal` (or not given) counts for the contact cadence.
pub const INTERACTION_PURPOSES: &[&str] = &[
    "check_in",
    "service",
    "sales",
    "renewal",
    "onboarding",
    "other",
];
/// The purposes that are selling, not keeping in touch.
pub const SALES_PURPOSES: &[&str] = &["sales", "renewal"];
/// Where a customer's onboarding stands.
pub const ONBOARDING_STATUSES: &[&str] = &["active", "completed", "cancelled"];
/// Where a goal agreed with the customer stands.
pub const GOAL_STATUSES: &[&str] = &["on_track", "at_risk", "achieved", "missed"];
pub const DIRECTIONS: &[&str] = &["inbound", "outbound"];
pub const OUTCOMES: &[&str] = &["positive", "neutral", "negative"];
/// How bad a case is, least first. Files written before `normal` say `medium`: the
/// value parser reads it as `normal` ([`choice_synonym`]).
pub const SEVERITIES: &[&str] = &["low", "normal", "high", "critical"];
/// A case's life cycle, in order: a reopened case is `open` again.
pub const CASE_STATUSES: &[&str] = &["open", "in_progress", "waiting", "resolved", "closed"];
/// How a case reached us.
pub const CASE_CHANNELS: &[&str] = &["phone", "email", "chat", "visit", "web", "survey", "other"];
/// What a compensation claim asks for.
pub const CLAIM_KINDS: &[&str] = &["refund", "replacement", "voucher", "other"];
/// Where a claim stands: waiting on a manager, or decided.
pub const CLAIM_STATUSES: &[&str] = &["pending", "approved", "refused"];
/// Columns of `cases` that no file or form writes: the SLA due times the core computes
/// from the case's severity policy (business or calendar hours), and the trust ledger
/// entry whose mistake opened an escalation case.
pub const CASE_DERIVED_COLUMNS: &[&str] = &[
    "first_response_due_at",
    "resolution_due_at",
    "escalation_of",
];
/// Columns of `claims` that no file or form writes: the case's customer, whether the
/// small-claim rule approved it, and who claimed, decided and paid it.
pub const CLAIM_DERIVED_COLUMNS: &[&str] = &[
    "customer_id",
    "auto_approved",
    "claimed_by",
    "decided_by",
    "paid_by",
];

/// An older spelling of a choice's value that still reads as the current one.
pub fn choice_synonym(allowed: &[&str], given: &str) -> Option<&'static str> {
    (std::ptr::eq(allowed, SEVERITIES) && given.eq_ignore_ascii_case("medium")).then_some("normal")
}
pub const CURRENCY: Field = f(
    "currency",
    Kind::Currency,
    "ISO 4217 code of the row's money fields",
);

pub static CUSTOMERS: Entity = Entity {
    name: "customers",
    aliases: &["customer"],
    table: "customers",
    fields: &[
        dflt(
            "kind",
            Kind::Choice(CUSTOMER_KINDS),
            "person",
            "person or company (default person)",
        ),
        f("name", Kind::Text, "name of the person or company"),
        f("email", Kind::Email, "email address"),
        f("phone", Kind::Phone, "phone number"),
        f("segment", Kind::Text, "segment, as the business names them"),
        f(
            "tier",
            Kind::Choice(TIERS),
            "value tier A-D (set by scoring or imported)",
        ),
        f(
            "locale",
            Kind::Choice(LOCALES),
            "language for messages: fi or en",
        ),
        f("survey_consent", Kind::Bool, "consents to surveys"),
        f(
            "survey_consent_at",
            Kind::Timestamp,
            "when survey consent was given or withdrawn",
        ),
        f("marketing_consent", Kind::Bool, "consents to marketing"),
        f(
            "marketing_consent_at",
            Kind::Timestamp,
            "when marketing consent was given or withdrawn",
        ),
        dflt(
            "do_not_contact",
            Kind::Bool,
            "false",
            "do not contact at all, apart from both consents (default no)",
        ),
        f("acquired_on", Kind::Date, "date the customer was won"),
        f(
            "acquisition_channel",
            Kind::Text,
            "channel the customer was won through",
        ),
        money(
            "acquisition_cost",
            "acquisition_cost_minor",
            false,
            "cost of winning the customer",
        ),
        CURRENCY,
        dflt(
            "status",
            Kind::Choice(CUSTOMER_STATUSES),
            "active",
            "active or ended (default active)",
        ),
        f("ended_on", Kind::Date, "date the relationship ended"),
        f("end_reason", Kind::Text, "why it ended"),
        f(
            "end_reason_code",
            Kind::Choice(END_REASONS),
            "why it ended, as a code: unprofitable, breaks_agreements, abusive, moved_away, other",
        ),
        dflt(
            "let_lapse",
            Kind::Bool,
            "false",
            "let lapse: the contact cadence stops, without notice (default no)",
        ),
        Field {
            name: "owner_id",
            column: "owner_id",
            kind: Kind::Ref("staff"),
            required: false,
            default: None,
            doc: "the staff member who owns the customer (their external id)",
        },
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static CONTACTS: Entity = Entity {
    name: "contacts",
    aliases: &["contact"],
    table: "contacts",
    fields: &[
        customer_ref(true),
        req("name", Kind::Text, "the person's name"),
        f("email", Kind::Email, "email address"),
        f("phone", Kind::Phone, "phone number"),
        f("title", Kind::Text, "role or title at the company"),
        dflt("is_primary", Kind::Bool, "false", "the main contact"),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static TRANSACTIONS: Entity = Entity {
    name: "transactions",
    aliases: &["transaction", "orders", "order"],
    table: "transactions",
    fields: &[
        customer_ref(true),
        req(
            "occurred_at",
            Kind::Timestamp,
            "when the order or refund happened",
        ),
        money(
            "amount",
            "amount_minor",
            true,
            "amount; negative for a refund",
        ),
        CURRENCY,
        money("cost", "cost_minor", false, "cost of goods sold"),
        f("channel", Kind::Text, "sales channel"),
        f(
            "offer_code",
            Kind::Text,
            "the offer code the order used (redeems the offer)",
        ),
        f(
            "order_id",
            Kind::Text,
            "order number; rows sharing one become one order",
        ),
        f(
            "quantity",
            Kind::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            "number of items",
        ),
        dflt(
            "kind",
            Kind::Choice(TRANSACTION_KINDS),
            "order",
            "order or refund (from the sign when absent)",
        ),
    ],
    time_field: Some("occurred_at"),
    append_only: false,
    creates_customers: true,
};

pub static SUBSCRIPTIONS: Entity = Entity {
    name: "subscriptions",
    aliases: &["subscription"],
    table: "subscriptions",
    fields: &[
        customer_ref(true),
        req("plan", Kind::Text, "plan name"),
        money("amount", "amount_minor", true, "amount per period"),
        CURRENCY,
        dflt(
            "period",
            Kind::Choice(PERIODS),
            "month",
            "billing period (default month)",
        ),
        req("started_on", Kind::Date, "start date"),
        f("ended_on", Kind::Date, "end date, when ended"),
        f("renews_on", Kind::Date, "next renewal date"),
        f("end_reason", Kind::Text, "why it ended"),
    ],
    time_field: Some("started_on"),
    append_only: false,
    creates_customers: false,
};

pub static INTERACTIONS: Entity = Entity {
    name: "interactions",
    aliases: &["interaction", "touchpoints"],
    table: "interactions",
    fields: &[
        customer_ref(true),
        req("occurred_at", Kind::Timestamp, "when it happened"),
        req(
            "kind",
            Kind::Choice(INTERACTION_KINDS),
            "call, meeting, email, visit, chat, note or other",
        ),
        f("direction", Kind::Choice(DIRECTIONS), "inbound or outbound"),
        staff_ref("staff_id"),
        f(
            "outcome",
            Kind::Choice(OUTCOMES),
            "positive, neutral or negative",
        ),
        f(
            "proactive",
            Kind::Bool,
            "we reached out without being asked",
        ),
        f(
            "purpose",
            Kind::Choice(INTERACTION_PURPOSES),
            "what it was about: check_in, service, sales, renewal, onboarding or other",
        ),
        f("note", Kind::LongText, "what was said or done"),
    ],
    time_field: Some("occurred_at"),
    append_only: false,
    creates_customers: false,
};

pub static CASES: Entity = Entity {
    name: "cases",
    aliases: &["case", "complaints"],
    table: "cases",
    fields: &[
        customer_ref(true),
        req("opened_at", Kind::Timestamp, "when the case was opened"),
        req("category", Kind::Text, "what kind of problem"),
        dflt(
            "severity",
            Kind::Choice(SEVERITIES),
            "normal",
            "low, normal, high or critical (default normal; medium reads as normal)",
        ),
        dflt(
            "status",
            Kind::Choice(CASE_STATUSES),
            "open",
            "open, in_progress, waiting (on the customer), resolved or closed (default open)",
        ),
        f(
            "channel",
            Kind::Choice(CASE_CHANNELS),
            "how it reached us: phone, email, chat, visit, web, survey or other",
        ),
        f(
            "our_fault",
            Kind::Bool,
            "the mistake was ours (empty: not known)",
        ),
        f("summary", Kind::LongText, "what happened, as described"),
        f(
            "first_response_at",
            Kind::Timestamp,
            "when we first answered the customer",
        ),
        f("resolved_at", Kind::Timestamp, "when it was put right"),
        f("closed_at", Kind::Timestamp, "when the case was closed"),
        f("resolution", Kind::LongText, "what was fixed"),
        f("apology", Kind::Bool, "we apologised"),
        f(
            "fixed_in_presence",
            Kind::Bool,
            "it was fixed while the customer was there",
        ),
        money(
            "compensation",
            "compensation_minor",
            false,
            "compensation given (before claims were recorded one by one)",
        ),
        CURRENCY,
        Field {
            doc: "the owner: the staff member's external id",
            ..staff_ref("staff_id")
        },
    ],
    time_field: Some("opened_at"),
    append_only: false,
    creates_customers: false,
};

pub static CLAIMS: Entity = Entity {
    name: "claims",
    aliases: &["claim", "compensations"],
    table: "claims",
    fields: &[
        Field {
            name: "case_id",
            column: "case_id",
            kind: Kind::Ref("cases"),
            required: true,
            default: None,
            doc: "the case's external id",
        },
        req(
            "claimed_at",
            Kind::Timestamp,
            "when the customer claimed it",
        ),
        money("amount", "amount_minor", true, "the amount claimed"),
        CURRENCY,
        dflt(
            "kind",
            Kind::Choice(CLAIM_KINDS),
            "refund",
            "refund, replacement, voucher or other (default refund)",
        ),
        dflt(
            "status",
            Kind::Choice(CLAIM_STATUSES),
            "pending",
            "pending, approved or refused (default pending)",
        ),
        f(
            "decided_at",
            Kind::Timestamp,
            "when it was approved or refused",
        ),
        f(
            "decision_reason",
            Kind::Text,
            "why a manager approved or refused it",
        ),
        f("paid_at", Kind::Timestamp, "when it was paid"),
    ],
    time_field: Some("claimed_at"),
    append_only: false,
    creates_customers: false,
};

/// What a survey's question writes: the feedback column its answer goes to.
pub const SURVEY_FIELDS: &[&str] = &[
    "nps",
    "csat",
    "ces",
    "yes_no",
    "did_well",
    "do_better",
    "comment",
];
pub const SURVEY_STATUSES: &[&str] = &["draft", "active", "closed"];
/// What sends a survey by itself: nothing, an order, a resolved case, the end of an
/// onboarding (each `send_after_days` later).
pub const SURVEY_SEND_AFTER: &[&str] = &["none", "order", "case_resolved", "onboarding_done"];
/// What the anonymous (QR code) page asks to tie an answer to a customer.
pub const SURVEY_ANONYMOUS_ASKS: &[&str] = &["none", "loyalty", "email"];
/// How an answer came in.
pub const FEEDBACK_CHANNELS: &[&str] = &["email", "link", "qr", "api", "import", "page"];

pub static SURVEYS: Entity = Entity {
    name: "surveys",
    aliases: &["survey"],
    table: "surveys",
    fields: &[
        req("name", Kind::Text, "the survey's name (for staff)"),
        dflt(
            "status",
            Kind::Choice(SURVEY_STATUSES),
            "draft",
            "draft, active or closed (default draft)",
        ),
        req(
            "questions",
            Kind::LongText,
            "one to three questions as JSON: [{\"field\": \"nps\", \"fi\": \"...\", \"en\": \"...\"}], \
             field one of nps, csat, ces, yes_no, did_well, do_better, comment",
        ),
        dflt(
            "version",
            Kind::Int {
                min: 1,
                max: 1_000_000,
            },
            "1",
            "the questions' version (raised by every change of them)",
        ),
        dflt(
            "send_after",
            Kind::Choice(SURVEY_SEND_AFTER),
            "none",
            "sent by itself after: none, order, case_resolved, onboarding_done",
        ),
        dflt(
            "send_after_days",
            Kind::Int { min: 0, max: 365 },
            "0",
            "days after the event the invitation goes (default 0)",
        ),
        dflt(
            "anonymous_asks",
            Kind::Choice(SURVEY_ANONYMOUS_ASKS),
            "none",
            "what the QR code's page asks to know who answered: none, loyalty, email",
        ),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static OFFERS: Entity = Entity {
    name: "offers",
    aliases: &["offer"],
    table: "offers",
    fields: &[
        req("name", Kind::Text, "the offer's name (for staff)"),
        f(
            "text_fi",
            Kind::LongText,
            "what the customer is offered, in Finnish",
        ),
        f(
            "text_en",
            Kind::LongText,
            "what the customer is offered, in English",
        ),
        dflt(
            "channel",
            Kind::Choice(OFFER_CHANNELS),
            "email",
            "email (through the outbox), manual (staff tell) or none (an A/A check: nobody is told)",
        ),
        dflt(
            "audience",
            Kind::Choice(OFFER_AUDIENCES),
            "everyone",
            "whom it goes to: everyone, segment, tier, list or queue",
        ),
        f(
            "audience_value",
            // A list audience names its customers: longer than a short text allows.
            Kind::LongText,
            "the segment's name, the tier (A-D) or the customers' external ids separated by commas",
        ),
        req(
            "valid_from",
            Kind::Date,
            "first day the offer can be redeemed",
        ),
        req(
            "valid_until",
            Kind::Date,
            "last day the offer can be redeemed",
        ),
        money(
            "cost_per_redemption",
            "cost_per_redemption_minor",
            false,
            "what one redemption costs the business",
        ),
        CURRENCY,
        f(
            "code",
            Kind::Text,
            "the code orders carry when they redeem it",
        ),
        dflt(
            "control_percent",
            Kind::Int { min: 0, max: 90 },
            "20",
            "the share of the audience drawn at random into the control group, in percent (default 20)",
        ),
        dflt(
            "hoped_points",
            Kind::Float,
            "5",
            "the rise in the purchase rate hoped for, in percentage points (sizes the groups; default 5)",
        ),
        f(
            "seed",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "the seed of the control group's draw (set when sent)",
        ),
        dflt(
            "status",
            Kind::Choice(OFFER_STATUSES),
            "draft",
            "draft, sent or closed (default draft)",
        ),
        f(
            "sent_at",
            Kind::Timestamp,
            "when the groups were drawn and the offer sent",
        ),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static FEEDBACK: Entity = Entity {
    name: "feedback",
    aliases: &["answers"],
    table: "feedback",
    fields: &[
        customer_ref(false),
        req("answered_at", Kind::Timestamp, "when the answer was given"),
        f("survey_ref", Kind::Text, "the survey the answer belongs to"),
        f(
            "nps",
            Kind::Int { min: 0, max: 10 },
            "likelihood to recommend, 0-10",
        ),
        f("csat", Kind::Int { min: 1, max: 5 }, "satisfaction, 1-5"),
        f("ces", Kind::Int { min: 1, max: 7 }, "customer effort, 1-7"),
        f("did_well", Kind::LongText, "what did we do well?"),
        f("do_better", Kind::LongText, "what should we do better?"),
        f("comment", Kind::LongText, "other free text"),
        f(
            "language",
            Kind::Choice(LOCALES),
            "language of the answer: fi or en",
        ),
        staff_ref("staff_id"),
        Field {
            name: "survey_id",
            column: "survey_id",
            kind: Kind::Ref("surveys"),
            required: false,
            default: None,
            doc: "the survey's external id (Kanta's own surveys)",
        },
        f(
            "survey_version",
            Kind::Int {
                min: 1,
                max: 1_000_000,
            },
            "the version of the survey's questions answered",
        ),
        f("yes_no", Kind::Bool, "the answer to a yes/no question"),
        f(
            "channel",
            Kind::Choice(FEEDBACK_CHANNELS),
            "how the answer came in: email, link, qr, api, import, page",
        ),
    ],
    time_field: Some("answered_at"),
    append_only: false,
    creates_customers: false,
};

pub static USAGE_EVENTS: Entity = Entity {
    name: "usage",
    aliases: &["usage-events", "usage_events"],
    table: "usage_events",
    fields: &[
        customer_ref(true),
        req("occurred_at", Kind::Timestamp, "when it was measured"),
        req(
            "metric",
            Kind::Text,
            "what was measured (logins, seats, api_calls, ...)",
        ),
        req("value", Kind::Float, "the measured value"),
    ],
    time_field: Some("occurred_at"),
    append_only: false,
    creates_customers: false,
};

pub static STAFF: Entity = Entity {
    name: "staff",
    aliases: &["staff-members", "staff_members"],
    table: "staff",
    fields: &[
        req("name", Kind::Text, "the staff member's name"),
        f("email", Kind::Email, "email address"),
        f("title", Kind::Text, "role or title"),
        dflt(
            "active",
            Kind::Bool,
            "true",
            "still works here (default yes)",
        ),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static ONBOARDING_TEMPLATES: Entity = Entity {
    name: "onboarding_templates",
    aliases: &["onboarding-templates", "onboarding_template"],
    table: "onboarding_templates",
    fields: &[
        req("name", Kind::Text, "the checklist's name"),
        f(
            "segment",
            Kind::Text,
            "new customers of this segment start it (empty: any)",
        ),
        f(
            "plan",
            Kind::Text,
            "new subscribers of this plan start it (empty: any)",
        ),
        dflt(
            "auto_start",
            Kind::Bool,
            "true",
            "started for matching new customers automatically (default yes)",
        ),
        dflt("active", Kind::Bool, "true", "in use (default yes)"),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static ONBOARDING_STEPS: Entity = Entity {
    name: "onboarding_steps",
    aliases: &["onboarding-steps", "onboarding_step"],
    table: "onboarding_steps",
    fields: &[
        Field {
            name: "template_id",
            column: "template_id",
            kind: Kind::Ref("onboarding_templates"),
            required: true,
            default: None,
            doc: "the template's external id",
        },
        req(
            "position",
            Kind::Int { min: 0, max: 1000 },
            "the step's place in the checklist",
        ),
        req("title", Kind::Text, "what is done"),
        req(
            "due_days",
            Kind::Int { min: 0, max: 3650 },
            "due this many days after the start",
        ),
        f(
            "owner_role",
            Kind::Text,
            "who does it (account manager, support, the customer, ...)",
        ),
        f(
            "customer_text",
            Kind::LongText,
            "what the customer is told about the step",
        ),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static ONBOARDINGS: Entity = Entity {
    name: "onboardings",
    aliases: &["onboarding"],
    table: "onboardings",
    fields: &[
        customer_ref(true),
        Field {
            name: "template_id",
            column: "template_id",
            kind: Kind::Ref("onboarding_templates"),
            required: true,
            default: None,
            doc: "the template's external id",
        },
        req("started_on", Kind::Date, "the day onboarding started"),
        dflt(
            "status",
            Kind::Choice(ONBOARDING_STATUSES),
            "active",
            "active, completed or cancelled (default active)",
        ),
        f("completed_on", Kind::Date, "the day the last step was done"),
    ],
    time_field: Some("started_on"),
    append_only: false,
    creates_customers: false,
};

pub static ONBOARDING_TASKS: Entity = Entity {
    name: "onboarding_tasks",
    aliases: &["onboarding-tasks", "onboarding_task"],
    table: "onboarding_tasks",
    fields: &[
        Field {
            name: "onboarding_id",
            column: "onboarding_id",
            kind: Kind::Ref("onboardings"),
            required: true,
            default: None,
            doc: "the onboarding's external id",
        },
        Field {
            name: "step_id",
            column: "step_id",
            kind: Kind::Ref("onboarding_steps"),
            required: true,
            default: None,
            doc: "the template step's external id",
        },
        req("due_on", Kind::Date, "the day the step is due"),
        f("done_at", Kind::Timestamp, "when it was done"),
        Field {
            doc: "who did it: the staff member's external id",
            ..staff_ref("staff_id")
        },
        f("note", Kind::Text, "a note on the step"),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static GOALS: Entity = Entity {
    name: "goals",
    aliases: &["goal"],
    table: "goals",
    fields: &[
        customer_ref(true),
        req(
            "agreed_on",
            Kind::Date,
            "the day it was agreed with the customer",
        ),
        req("title", Kind::Text, "the goal, in the customer's words"),
        f(
            "measure",
            Kind::Text,
            "how progress is measured (orders a month, hours saved, ...)",
        ),
        f(
            "baseline",
            Kind::Float,
            "the measure when the goal was agreed",
        ),
        f("target", Kind::Float, "the measure to reach"),
        f("current", Kind::Float, "the measure now"),
        f("due_on", Kind::Date, "the day it is due"),
        dflt(
            "status",
            Kind::Choice(GOAL_STATUSES),
            "on_track",
            "on_track, at_risk, achieved or missed (default on_track)",
        ),
        Field {
            doc: "who looks after it: the staff member's external id",
            ..staff_ref("staff_id")
        },
    ],
    time_field: Some("agreed_on"),
    append_only: false,
    creates_customers: false,
};

pub static GOAL_NOTES: Entity = Entity {
    name: "goal_notes",
    aliases: &["goal-notes", "goal_note"],
    table: "goal_notes",
    fields: &[
        Field {
            name: "goal_id",
            column: "goal_id",
            kind: Kind::Ref("goals"),
            required: true,
            default: None,
            doc: "the goal's external id",
        },
        req("noted_on", Kind::Date, "the day of the progress note"),
        f("value", Kind::Float, "the measure on that day"),
        req(
            "note",
            Kind::LongText,
            "the progress, in words the customer reads",
        ),
        staff_ref("staff_id"),
    ],
    time_field: None,
    append_only: false,
    creates_customers: false,
};

pub static TRUST_LEDGER: Entity = Entity {
    name: "trust",
    aliases: &["trust-ledger", "trust_ledger", "trust_entries"],
    table: "trust_entries",
    fields: &[
        customer_ref(true),
        req("occurred_at", Kind::Timestamp, "when it happened"),
        req(
            "delta",
            Kind::Int {
                min: -1_000_000,
                max: 1_000_000,
            },
            "credit (+) or debit (-)",
        ),
        req("reason", Kind::Text, "why"),
        dflt(
            "source",
            Kind::Text,
            "import",
            "where the entry came from (case, interaction, feedback, manual, import)",
        ),
        f(
            "source_id",
            Kind::Text,
            "the external id of the record it came from (a case's id)",
        ),
    ],
    time_field: Some("occurred_at"),
    append_only: true,
    creates_customers: false,
};

/// Every entity, in the order they are written and erased (referenced ones first).
pub static ENTITIES: &[&Entity] = &[
    &STAFF,
    &CUSTOMERS,
    &CONTACTS,
    &TRANSACTIONS,
    &SUBSCRIPTIONS,
    &INTERACTIONS,
    &CASES,
    &CLAIMS,
    &SURVEYS,
    &OFFERS,
    &FEEDBACK,
    &USAGE_EVENTS,
    &ONBOARDING_TEMPLATES,
    &ONBOARDING_STEPS,
    &ONBOARDINGS,
    &ONBOARDING_TASKS,
    &GOALS,
    &GOAL_NOTES,
    &TRUST_LEDGER,
];

/// Finds an entity by its name or an alias, ignoring case.
pub fn entity(name: &str) -> Option<&'static Entity> {
    let n = name.trim().to_ascii_lowercase();
    ENTITIES
        .iter()
        .copied()
        .find(|e| e.name == n || e.aliases.contains(&n.as_str()))
}

/// The names of all entities, for messages.
pub fn entity_names() -> Vec<&'static str> {
    ENTITIES.iter().map(|e| e.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_columns_are_unique() {
        let mut names = HashSet::new();
        for e in ENTITIES {
            assert!(names.insert(e.name), "duplicate entity {}", e.name);
            for a in e.aliases {
                assert!(names.insert(a), "duplicate alias {a}");
            }
            let mut cols = HashSet::new();
            let mut fields = HashSet::new();
            for f in e.fields {
                assert!(
                    cols.insert(f.column),
                    "{}: duplicate column {}",
                    e.name,
                    f.column
                );
                assert!(
                    fields.insert(f.name),
                    "{}: duplicate field {}",
                    e.name,
                    f.name
                );
                assert_ne!(f.name, "id", "{}: id is implicit", e.name);
            }
            if e.has_money() {
                assert!(
                    e.field("currency").is_some(),
                    "{} has money but no currency",
                    e.name
                );
            }
            for f in e.fields {
                if let Some(d) = f.default {
                    let cx = crate::value::ParseContext {
                        currency: crate::Currency::EUR,
                        date_format: None,
                        zone: crate::time::Tz::UTC,
                    };
                    let v = crate::value::parse_field(f.kind, d, &cx);
                    assert!(
                        matches!(v, Ok(ref v) if !v.is_null()),
                        "{}.{}: default {d} does not parse",
                        e.name,
                        f.name
                    );
                }
            }
            if let Some(t) = e.time_field {
                assert!(e.field(t).is_some(), "{}: no time field {t}", e.name);
            }
        }
    }

    #[test]
    fn finds_by_alias() {
        assert_eq!(entity("Usage-Events").unwrap().name, "usage");
        assert_eq!(entity("trust_ledger").unwrap().table, "trust_entries");
        assert!(entity("nothing").is_none());
    }
}
