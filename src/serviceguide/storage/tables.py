"""The schema. Alembic migrations are written against it; queries import the tables from here."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from serviceguide.storage.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids would be nicer on PostgreSQL, but SQLite only autoincrements INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # OrgKind
    Column("name", String(200), nullable=False),
    Column("coid", String(16), unique=True),  # KO only
    Column("xsp", Integer, unique=True),  # TL only
    Column("order_email", String(254)),  # TL only
    Column("created_at", UTCDateTime, nullable=False),
    # A TL's contact details for its customers (the receipt, the thank-you page); None: unset.
    Column("phone", String(30)),
    Column("contact_email", String(254)),
    Column("website", String(500)),
    Column("opening_hours", String(200)),
    # A disabled organisation's users cannot log in and it offers nothing in the guide.
    Column("active", Boolean, nullable=False, server_default="1"),
    CheckConstraint("kind IN ('ko', 'tl', 'platform')", name="kind"),
)

# A TL's ON-API 2.6 settings (the TL as a service provider taking pushed orders); no row: its
# orders go by e-mail only. ``password_enc``: the Basic password, encrypted (services.sealing),
# so that it can be sent but is never shown.
tl_onapi = Table(
    "tl_onapi",
    metadata,
    Column("tl_org_id", ForeignKey("organisations.id"), primary_key=True, autoincrement=False),
    Column("base_url", String(500), nullable=False),
    Column("username", String(200)),
    Column("password_enc", Text),
    Column("delivery", String(5), nullable=False),  # domain.sp.Delivery
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("delivery IN ('mail', 'onapi', 'both')", name="delivery"),
)

networks = Table(
    "networks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("coid", String(16), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("ko_org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("activation_url", String(500)),  # None: the network does not activate directly
    Column("created_at", UTCDateTime, nullable=False),
)


def _search_key(length: int) -> String:
    """A normalised search key: byte-ordered on PostgreSQL, BINARY (the default) on SQLite."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


accesses = Table(
    "accesses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("network_id", ForeignKey("networks.id"), nullable=False),
    Column("access_id", String(36), nullable=False),
    Column("street_name", String(200), nullable=False),
    Column("street_number", String(20), nullable=False),
    Column("street_littera", String(10), nullable=False, server_default=""),
    Column("postal_code", String(5), nullable=False),
    Column("city", String(100), nullable=False),
    Column("country_code", String(2), nullable=False, server_default="SE"),
    Column("premises_type", String(40), nullable=False, server_default="OTHER"),
    Column("mdu_apartment_number", String(4), nullable=False, server_default=""),
    Column("mdu_distinguisher", String(100), nullable=False, server_default=""),
    Column("property_unit_designation", String(67), nullable=False, server_default=""),
    Column("sweref_type", String(20), nullable=False, server_default=""),
    Column("sweref_north", String(20), nullable=False, server_default=""),
    Column("sweref_east", String(20), nullable=False, server_default=""),
    # Search keys written from the address by storage.accesses.search_keys (domain.addresses):
    # folded street name, zero-padded number + littera, folded city. Byte order ("C") on
    # PostgreSQL so that a prefix is a contiguous index range whatever the database's locale.
    Column("search_street", _search_key(200), nullable=False, server_default=""),
    Column("search_number", _search_key(30), nullable=False, server_default=""),
    Column("search_city", _search_key(100), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    # Set when an import with --replace found the access no longer in the KO's file: hidden from
    # the guide, ON-API and the export; orders placed on it keep it. A later import naming it
    # again clears it.
    Column("retired_at", UTCDateTime),
    UniqueConstraint("network_id", "access_id", name="uq_accesses_network_access"),
)
# Address search: every query is a range or equality on the first column, read in index order.
_address_order = (accesses.c.search_number, accesses.c.mdu_apartment_number, accesses.c.id)
Index("ix_accesses_search_street", accesses.c.search_street, *_address_order)
Index(
    "ix_accesses_search_postal", accesses.c.postal_code, accesses.c.search_street, *_address_order
)
Index("ix_accesses_search_city", accesses.c.search_city, accesses.c.search_street, *_address_order)
# The staff search's accessId, in any case (PostgreSQL only: storage/staff.py).
Index("ix_accesses_access_id_lower", func.lower(accesses.c.access_id)).ddl_if(dialect="postgresql")

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("uid", String(40), nullable=False),  # the KO's product code, e.g. AB100100
    Column("name", String(200), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("tl_org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("network_id", ForeignKey("networks.id"), nullable=False, index=True),
    Column("price_monthly", Numeric(10, 2), nullable=False),
    Column("price_once", Numeric(10, 2), nullable=False),
    Column("direct_activation", Boolean, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("category", String(20), nullable=False, server_default="other"),  # ServiceCategory
    # Where the service comes from: 'manual' (entered in the guide) or 'onapi' (an offering read
    # from the TL's ON-API products by services.products, one service per network it fits).
    Column("source", String(6), nullable=False, server_default="manual"),
    Column("product_id", String(36)),  # onapi: the TL's productId and offeringId
    Column("offering_id", String(36)),
    Column("offering_name", String(255)),  # onapi: the offering's name, under the product's
    # What customers compare beside the prices (ISO 8601 durations): the price's period (None:
    # a month), the binding time (None: none), the notice period (None: not stated).
    Column("price_period", String(20)),
    Column("agreement_length", String(20)),
    Column("notice_period", String(20)),
    # A campaign: the price is reduced for campaign_length (if given), then base_price.
    Column("campaign", Boolean, nullable=False, server_default="0"),
    Column("campaign_length", String(20)),
    Column("base_price", Numeric(10, 2)),
    Column("consumer_types", String(100)),  # comma-separated; None: not stated
    Column("terms_url", String(500)),
    Column("privacy_url", String(500)),
    Column("onapi_extra", Text),  # onapi: the rest of what the document said (JSON)
    Column("updated_at", UTCDateTime),  # the last change (served products' Last-Modified)
    CheckConstraint("source IN ('manual', 'onapi')", name="source"),
)
Index(
    "uq_services_offering",
    services.c.tl_org_id,
    services.c.network_id,
    services.c.product_id,
    services.c.offering_id,
    unique=True,
    sqlite_where=services.c.source == "onapi",
    postgresql_where=services.c.source == "onapi",
)

# The reading of a TL's ON-API products (services.products): the last good read's
# serviceProvider (JSON), the last attempt and its error (None: it went well), and the claim of
# the one process reading them now.
product_syncs = Table(
    "product_syncs",
    metadata,
    Column("tl_org_id", ForeignKey("organisations.id"), primary_key=True, autoincrement=False),
    Column("service_provider", Text),
    Column("synced_at", UTCDateTime),
    Column("attempted_at", UTCDateTime),
    Column("error", Text),
    Column("claimed_until", UTCDateTime),
    Column("claim_token", String(32)),
)

# Which TLs a KO admits to sell in its network: a row per admitted TL. A TL's services are
# offered in a network only while it is admitted there; withdrawing deletes the row (the admin
# log keeps the history), and the TL's services and orders stay as they are.
network_admissions = Table(
    "network_admissions",
    metadata,
    Column("network_id", ForeignKey("networks.id"), primary_key=True),
    Column("tl_org_id", ForeignKey("organisations.id"), primary_key=True),
    Column("admitted_at", UTCDateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("access_pk", ForeignKey("accesses.id"), nullable=False, index=True),
    Column("serial", String(12), nullable=False),  # personnummer, 12 digits
    Column("firstname", String(100), nullable=False),
    Column("surname", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(30), nullable=False),
    Column("address", String(300), nullable=False),
    Column("zip", String(5), nullable=False),
    Column("city", String(100), nullable=False),
    Column("premise", String(40), nullable=False, server_default=""),
    # The staff search's text: names and address, folded (domain.listing.search_text), written
    # with the record and blanked with it, so that both databases match alike.
    Column("search_text", String(600), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    # Set when the personal data above was blanked (retention or an erasure request).
    Column("anonymised_at", UTCDateTime),
    # The staff search's words anywhere in search_text: PostgreSQL's pg_trgm (storage/staff.py).
    Index(
        "ix_customers_search_trgm", text("search_text gin_trgm_ops"), postgresql_using="gin"
    ).ddl_if(dialect="postgresql"),
    sqlite_autoincrement=True,  # ids are never reused: since_id polling relies on it
)

# tl_org_id and ko_org_id are copied from the service and the access's network when the order is
# placed: every visibility check is then a single indexed column, with no joins on the hot path.
# The service's uid, name and prices are copied too (below): an order keeps what was offered.
orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, index=True),
    Column("service_id", ForeignKey("services.id"), nullable=False),
    Column("access_pk", ForeignKey("accesses.id"), nullable=False, index=True),
    Column("tl_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("ko_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("delivery", Date),  # None = as soon as possible
    Column("message", Text, nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # What the customer was offered, copied from the service when the order is placed: a later
    # change of the service's name or prices does not rewrite orders already placed.
    Column("service_uid", String(40), nullable=False),
    Column("service_name", String(200), nullable=False),
    Column("price_monthly", Numeric(10, 2), nullable=False),
    Column("price_once", Numeric(10, 2), nullable=False),
    # ...and, for the TL's ON-API, the product and offering (None before they were kept: the
    # service's uid stands for both), the price's period, the binding time and the notice period.
    Column("product_id", String(36)),
    Column("offering_id", String(36)),
    Column("price_period", String(20)),
    Column("agreement_length", String(20)),
    Column("notice_period", String(20)),
    CheckConstraint(
        "status IN ('new', 'received', 'active', 'waiting', 'cancelled', 'delivered')",
        name="status",
    ),
    sqlite_autoincrement=True,  # ids are never reused: since_id polling relies on it
)
Index("ix_orders_tl_id", orders.c.tl_org_id, orders.c.id)
Index("ix_orders_ko_id", orders.c.ko_org_id, orders.c.id)
# The id rides along on PostgreSQL: a listing by date finds its first id from the index alone
# (storage/polling.py). SQLite's indexes hold the row id anyway.
Index("ix_orders_tl_created", orders.c.tl_org_id, orders.c.created_at, postgresql_include=["id"])
Index("ix_orders_ko_created", orders.c.ko_org_id, orders.c.created_at, postgresql_include=["id"])

order_log = Table(
    "order_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("type", String(8), nullable=False),  # MessageType
    Column("message", Text, nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("org_name", String(200), nullable=False),
    Column("org_id", ForeignKey("organisations.id")),  # None: written by the system itself
    # A system entry's code and parameters (domain.logcodes); None for what people write.
    Column("code", String(40)),
    Column("params", Text),  # JSON object
    sqlite_autoincrement=True,  # ids are never reused: since_id polling relies on it
)
Index("ix_order_log_order_id", order_log.c.order_id, order_log.c.id)

# The append-only change feed behind the `events` method (and, later, webhooks). Written in the
# same transaction as the change it records.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("type", String(20), nullable=False),  # EventType
    Column("status", String(12), nullable=False),  # the order's status after the change
    Column("message_type", String(8)),
    Column("tl_org_id", ForeignKey("organisations.id"), nullable=False),
    Column("ko_org_id", ForeignKey("organisations.id"), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused: since_id polling relies on it
)
Index("ix_events_tl_id", events.c.tl_org_id, events.c.id)
Index("ix_events_ko_id", events.c.ko_org_id, events.c.id)

api_users = Table(
    "api_users",
    metadata,
    Column("id", Integer, primary_key=True),  # the `api_user` number
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(200), nullable=False),  # argon2
    Column("ip_allowlist", JSON),  # list of addresses/networks; None = no allow-list
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),  # last accepted key or allow-listed call (to a minute)
)

# Login hashes. Only the SHA-256 of a hash is stored; the row is looked up by it.
api_sessions = Table(
    "api_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("api_user_id", ForeignKey("api_users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# Rate limiting that holds across server processes: one row per counted event (a failed login,
# an order placed through the guide), keyed by what is limited ("login-user:12", "guide-ip:…").
rate_hits = Table(
    "rate_hits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(80), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_rate_hits_key_at", rate_hits.c.key, rate_hits.c.at)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),  # argon2
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("role", String(8), nullable=False, server_default="handler"),  # Role
    CheckConstraint("role IN ('handler', 'admin')", name="role"),
)

# Idempotency-Key of the guide's order API: the first answer, kept to be repeated. Written in the
# same transaction as the orders it answers for.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),  # the JSON body
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# Webhook endpoints an organisation (TL or KO) registered. The secret signs every delivery, so it
# must be readable: it is stored as is (docs/notifications.md says why) and shown only when it is
# created or rotated.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), nullable=False, index=True),
    Column("url", String(500), nullable=False),
    Column("event_types", String(200), nullable=False),  # comma-separated EventType values
    Column("secret", String(100), nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
)

# The transactional outbox: one row per message to deliver (an order mail to a TL, or one event
# to one webhook endpoint), written in the same transaction as the change it announces. The relay
# claims due rows (state pending, or delivering with an expired claim), delivers them outside any
# transaction and records the outcome.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # OutboxKind
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("event_id", ForeignKey("events.id")),  # webhook: the event it delivers
    Column("org_id", ForeignKey("organisations.id")),  # mail: the TL it goes to
    Column("endpoint_id", ForeignKey("webhook_endpoints.id"), index=True),  # webhook
    Column("state", String(10), nullable=False),  # OutboxState
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime),  # state delivering: the claim's end
    Column("claim_token", String(32)),  # which claim may record the outcome
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    Column("request_id", String(64)),  # X-Request-ID of the request that wrote the row
    # receipt: what its mail needs and nothing keeps (the order page's link), until delivered.
    Column("payload", Text),
    CheckConstraint("kind IN ('mail', 'webhook', 'receipt', 'sp_order', 'sp_notice')", name="kind"),
    CheckConstraint("state IN ('pending', 'delivering', 'delivered', 'failed')", name="state"),
    sqlite_autoincrement=True,  # a retried or replayed id is never another message's id
)
Index("ix_outbox_due", outbox.c.state, outbox.c.next_attempt_at)

# Every delivery attempt of an outbox row: the delivery log.
outbox_attempts = Table(
    "outbox_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("outbox_id", ForeignKey("outbox.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),  # when the attempt started
    Column("outcome", String(10), nullable=False),  # AttemptOutcome
    Column("error", Text),
    Column("duration_ms", Integer),
    Column("relay", String(100), nullable=False),  # host:pid of the relay that tried
)
Index("ix_outbox_attempts_outbox_id", outbox_attempts.c.outbox_id, outbox_attempts.c.id)

# Staff web sessions. Only the SHA-256 of the cookie's token is stored; expires_at slides forward
# while the session is used (idle expiry).
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("staff_user_id", ForeignKey("staff_users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# "Needs manual follow-up", per organisation: the TL's flag on an order is not the KO's.
order_flags = Table(
    "order_flags",
    metadata,
    Column("order_id", ForeignKey("orders.id"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id"), primary_key=True),
    Column("set_by", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_order_flags_org_order", order_flags.c.org_id, order_flags.c.order_id)

# Who read which customer's personal data, when and how (GDPR accountability). A row per
# customer per read: an API ``customer_info`` or ``customers`` answer, a staff page. Names are
# copied so the record outlives renamed or removed users; no personal data of the customer.
personal_data_reads = Table(
    "personal_data_reads",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    # No foreign keys (migration 0017): each would cost a lookup per row on the API's read
    # path; the ids are the ones the request has just read, and the names are copied.
    Column("customer_id", Id, nullable=False),
    Column("reader_kind", String(8), nullable=False),  # api_user | staff
    Column("reader_id", Integer, nullable=False),
    Column("reader_name", String(200), nullable=False),
    Column("org_id", Integer, nullable=False),
    Column("org_name", String(200), nullable=False),
    Column("via", String(40), nullable=False),  # e.g. api:customer_info, staff:reveal
    Column("client", String(45)),  # the reader's IP address
    CheckConstraint("reader_kind IN ('api_user', 'staff')", name="reader_kind"),
)
Index(
    "ix_personal_data_reads_customer", personal_data_reads.c.customer_id, personal_data_reads.c.id
)
Index("ix_personal_data_reads_at", personal_data_reads.c.at)

# The admin log: every administrative change, append-only (storage.audit only inserts and reads).
# Who (names copied, so the entry outlives renamed or removed users), when, which organisation
# the change concerns, what, and the values before and after as JSON — never a secret.
admin_log = Table(
    "admin_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("org_id", ForeignKey("organisations.id")),  # None: the installation as a whole
    Column("org_name", String(200), nullable=False),
    Column("actor", String(200), nullable=False),  # "Anna Admin (anna.admin)" or "command line"
    Column("actor_org", String(200), nullable=False),
    Column("action", String(40), nullable=False),  # e.g. service.create, staff.role
    Column("object", String(200), nullable=False),  # e.g. "service 1001", "staff user anna"
    Column("before", Text),  # JSON object; None for a creation
    Column("after", Text),  # JSON object; None for a removal
    sqlite_autoincrement=True,
)
Index("ix_admin_log_org_id", admin_log.c.org_id, admin_log.c.id)

# Market-database uploads through the staff pages, imported in the background by the server
# (services.imports). One row per upload: its state and progress, readable by every worker.
# At most one queued or running import per network (the partial unique index).
imports = Table(
    "imports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("network_id", ForeignKey("networks.id"), nullable=False),
    Column("org_id", ForeignKey("organisations.id"), nullable=False),
    Column("state", String(10), nullable=False),  # ImportState
    Column("format", String(3), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("path", String(500), nullable=False),  # the uploaded file, under var_dir/imports
    Column("bytes", BigInteger, nullable=False),
    Column("lines", Integer),  # lines in the file (an estimate of the rows), once counted
    Column("rows_done", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("inserted", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),  # a running import's worker writes it as it goes
    Column("claim_token", String(32)),
    CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
    sqlite_autoincrement=True,
)
Index("ix_imports_network_id", imports.c.network_id, imports.c.id)
Index(
    "uq_imports_network_busy",
    imports.c.network_id,
    unique=True,
    sqlite_where=imports.c.state.in_(["queued", "running"]),
    postgresql_where=imports.c.state.in_(["queued", "running"]),
)

# Every rejected row of an upload: its line in the file, the field and the reason.
import_rejections = Table(
    "import_rejections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("import_id", ForeignKey("imports.id"), nullable=False),
    Column("line", Integer, nullable=False),
    Column("field", String(40), nullable=False),
    Column("reason", String(300), nullable=False),
)
Index("ix_import_rejections_import", import_rejections.c.import_id, import_rejections.c.line)
# The guide's draft order between the steps: the browser holds a random cookie, the server the
# draft (JSON) under the cookie's SHA-256, until it has been idle for a while.
guide_sessions = Table(
    "guide_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("draft", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# One row per placement (a placement is one customer record): the SHA-256 of the token of the
# customer's order page (/my-orders/{token}) and the language the customer ordered in. Deleted
# when the customer's personal data is blanked.
order_pages = Table(
    "order_pages",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False, unique=True),
    Column("lang", String(2), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
