"""Deterministic demo data: two organisations with merchants, customers and two years of spending.

`seed_demo` backs `spendlens seed`. The same (seed, as_of, scale) always yields the same rows, so
demos, screenshots and tests can rely on the figures; an existing organisation is never touched.
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, text

from spendlens.auth.security import hash_password
from spendlens.events import demo as demo_events
from spendlens.models import Customer, Merchant, Organization, Transaction, User

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "spendlens-demo"
DEMO_USERS: list[tuple[str, str, str, str]] = [  # (email, full_name, role, org_slug)
    ("admin@acme.example", "Alice Morgan", "admin", "acme-retail"),
    ("analyst@acme.example", "Ben Carter", "analyst", "acme-retail"),
    ("viewer@acme.example", "Vera Quinn", "viewer", "acme-retail"),
    ("analyst@globex.example", "Greta Hoffmann", "analyst", "globex"),
]

# Any constant works; it only has to be the same for every seeding process so two concurrent
# `spendlens seed` runs queue up instead of both deciding that an organisation is missing.
_SEED_LOCK_KEY = 0x5EED_DE30

HISTORY_MONTHS = 24
REFUND_SHARE = 0.01
# Share of eligible customers (old enough to have a history) who stop buying; with the occasional
# buyers who merely paused, about 30% of all customers have no purchase in the last 90 days.
CHURN_PROBABILITY = 0.35
CHURN_MIN_QUIET_DAYS = 120
# Gamma shape of the per-customer purchase rate: low enough for a visible heavy-buyer tail.
PURCHASE_RATE_SHAPE = 1.4
FAVOURITE_MERCHANT_SHARE = 0.6
SIDELINE_SHARE = 0.08  # purchases a merchant books outside its default category
# Customers who signed up before the 24 months shown: up to this many days earlier.
PRE_HISTORY_DAYS = 3 * 365
PRE_HISTORY_SHARE = 0.4

# Month weights, January first: a Nov/Dec peak and a summer dip.
_SEASON = (0.88, 0.84, 0.95, 0.97, 1.0, 0.9, 0.82, 0.85, 0.97, 1.02, 1.25, 1.45)
# Travel runs against the general curve: people fly in summer.
_TRAVEL_SEASON = (0.8, 0.75, 0.95, 1.0, 1.1, 1.35, 1.55, 1.5, 1.0, 0.9, 0.8, 1.1)
_WEEKDAY = (0.86, 0.9, 0.94, 1.0, 1.16, 1.3, 1.02)  # Monday first: Friday and Saturday shopping
# Local hour of day: quiet nights, a lunchtime bump and an evening peak.
_HOURS = (
    0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.35, 0.7, 1.0, 1.1, 1.25, 1.45,
    1.7, 1.55, 1.3, 1.25, 1.4, 1.7, 1.9, 1.8, 1.5, 1.1, 0.7, 0.35,
)  # fmt: skip
_QUANTITY_CUM = tuple(accumulate((0.62, 0.2, 0.1, 0.05, 0.03)))  # quantities 1..5


@dataclass(frozen=True)
class CategoryProfile:
    name: str
    share: float  # share of purchases before each customer's own taste is applied
    median: float  # median line amount in the organisation's currency
    sigma: float  # lognormal spread: wide where cheap and dear items share a category
    holiday: float  # exponent on the season curve: above 1 peaks harder in Nov/Dec
    sideline: str  # the category a merchant of this kind sometimes books instead
    items: tuple[str, ...]
    # Merchant names: the first five for Acme (US), the last five for Globex (Europe).
    merchants: tuple[str, ...]


CATEGORIES: tuple[CategoryProfile, ...] = (
    CategoryProfile(
        "Groceries", 0.3, 40, 0.55, 0.4, "Health & Beauty",
        ("weekly shop", "fresh produce", "pantry staples", "dairy and eggs", "bakery",
         "household essentials", "snacks and drinks", "organic box"),
        ("FreshMart", "Green Basket", "Corner Grocer", "Harvest Foods", "Daily Pantry",
         "Marktfrisch", "Le Panier", "Bioland Markt", "Mercado Sol", "Nordic Fresh"),
    ),
    CategoryProfile(
        "Restaurants", 0.14, 28, 0.6, 0.8, "Entertainment",
        ("dinner", "lunch", "takeaway", "brunch", "coffee and pastries", "family meal"),
        ("Blue Plate Diner", "Luigi's Trattoria", "Taco Grande", "Golden Wok", "Burger Barn",
         "Brasserie Lumière", "Gasthaus Zur Linde", "Trattoria Roma", "Café Central",
         "Sushi Kaze"),
    ),
    CategoryProfile(
        "Health & Beauty", 0.08, 35, 0.7, 1.0, "Groceries",
        ("skincare", "vitamins", "pharmacy", "haircare", "fragrance", "cosmetics"),
        ("Glow Pharmacy", "Pure Skin Co", "WellCare Drugstore", "Bloom Beauty", "Vita Plus",
         "Apotheke am Markt", "Belle Peau", "Farmacia Verde", "Douce Beauté", "Salus Drogerie"),
    ),
    CategoryProfile(
        "Apparel", 0.08, 70, 0.7, 1.3, "Sports & Outdoors",
        ("jeans", "jacket", "sneakers", "t-shirts", "dress", "kids clothing", "winter coat"),
        ("Urban Threads", "Denim Depot", "Style Avenue", "Kids Closet", "Northwind Outfitters",
         "Modehaus Berg", "Maison Claire", "Moda Milano", "Stoffwerk", "Atelier Nord"),
    ),
    CategoryProfile(
        "Entertainment", 0.07, 45, 0.6, 1.0, "Restaurants",
        ("cinema tickets", "concert tickets", "streaming subscription", "theme park",
         "bowling", "theatre tickets"),
        ("Starlight Cinemas", "Ticket Hub", "Fun Zone Arcade", "StreamBox", "Lucky Lanes",
         "Kino Palast", "Théâtre Royal", "Konzerthaus Tickets", "Cine Europa", "Spielwelt Arena"),
    ),
    CategoryProfile(
        "Services", 0.06, 90, 0.8, 0.6, "Home & Garden",
        ("dry cleaning", "car wash", "phone repair", "home cleaning", "haircut", "tailoring"),
        ("QuickFix Repairs", "Sparkle Cleaners", "Sharp Cuts Salon", "AutoShine Car Wash",
         "Handy Helpers", "Reinigung Blitz", "Service Express", "Salon Élégance",
         "Schuster & Sohn", "AutoPflege Plus"),
    ),
    CategoryProfile(
        "Home & Garden", 0.06, 85, 0.9, 1.0, "Services",
        ("garden tools", "bedding", "kitchenware", "paint", "plants", "lighting", "furniture"),
        ("HomeNest", "Garden Grove", "Hardware Haven", "Cozy Living", "Bright Lights Decor",
         "Heim & Garten", "Maison Jardin", "Casa Bella", "Baumarkt Meyer", "Nordhem Interiors"),
    ),
    CategoryProfile(
        "Books & Media", 0.05, 22, 0.6, 1.4, "Toys & Games",
        ("paperback", "hardcover", "vinyl record", "video game", "magazine subscription",
         "audiobook"),
        ("Page Turner Books", "Vinyl Vault", "Media Mart", "Chapter One", "Pixel Games",
         "Buchhandlung Lesezeit", "Librairie du Port", "Libreria Dante", "Medienwelt",
         "Spielekiste"),
    ),
    CategoryProfile(
        "Electronics", 0.035, 300, 0.9, 1.8, "Books & Media",
        ("headphones", "laptop", "smartphone", "tablet", "smart speaker", "television",
         "camera", "charger and cables"),
        ("TechWorld", "Circuit Corner", "Gadget Garage", "Volt Electronics", "MegaByte Store",
         "Elektro Schmidt", "TechnoMarché", "Digitalia", "Blitz Elektronik", "Elektra Plaza"),
    ),
    CategoryProfile(
        "Sports & Outdoors", 0.05, 75, 0.8, 0.9, "Apparel",
        ("running shoes", "yoga mat", "bike accessories", "camping gear", "fitness tracker",
         "swimwear"),
        ("Peak Sports", "Trail Outfitters", "FitLife Gear", "Ocean & Summit", "Pro Athlete",
         "Sporthaus Alpin", "Sport Horizon", "Bergsport Huber", "Vélo Ville", "Atleta Sport"),
    ),
    CategoryProfile(
        "Toys & Games", 0.05, 35, 0.7, 2.2, "Books & Media",
        ("board game", "building blocks", "doll", "puzzle", "remote control car", "plush toy"),
        ("Toy Planet", "Little Wonders", "Game Night", "Brick Builders", "Happy Cubs Toys",
         "Spielzeug Paradies", "Le Coffre à Jouets", "Giocattoli Felici",
         "Holzwurm Spielwaren", "Toy Garden Europa"),
    ),
    CategoryProfile(
        "Travel", 0.02, 600, 0.7, 1.0, "Restaurants",
        ("flight", "hotel stay", "train tickets", "car rental", "holiday package", "city break"),
        ("SkyHigh Airlines", "Roadway Car Rental", "Sunset Travel", "Grand Stay Hotels",
         "RailPass Express", "Euroflug", "Hôtel Bellevue", "Rail Europa", "Viaggi Sole",
         "Alpen Reisen"),
    ),
)  # fmt: skip

_US_FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Emily", "Mark", "Ashley",
    "Steven", "Olivia", "Andrew", "Sophia", "Kevin", "Emma", "Brian", "Chloe", "Luis", "Maria",
    "Wei", "Priya", "Ahmed", "Aisha",
)  # fmt: skip
_US_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Green", "Adams", "Baker", "Nelson",
    "Patel", "Chen", "Kim", "Murphy",
)  # fmt: skip
_EU_FIRST = (
    "Lukas", "Anna", "Leon", "Sophie", "Jonas", "Marie", "Felix", "Laura", "Paul", "Julia",
    "Louis", "Camille", "Hugo", "Chloe", "Lucas", "Emma", "Mateo", "Lucia", "Marco", "Giulia",
    "Daan", "Sanne", "Jan", "Eva", "Noah", "Lena", "Tomas", "Sara", "Oliver", "Clara",
)  # fmt: skip
_EU_LAST = (
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Martin",
    "Bernard", "Dubois", "Laurent", "Moreau", "Rossi", "Russo", "Ferrari", "Bianchi", "Garcia",
    "Fernandez", "Lopez", "de Jong", "Jansen", "de Vries", "Novak", "Kowalski", "Nowak", "Peeters",
    "Janssens", "Murphy", "Hansen",
)  # fmt: skip


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    base_currency: str
    timezone: str
    customers: int  # at scale 1.0
    transactions: int  # at scale 1.0, refunds included
    merchant_slot: int  # which five of each category's ten merchant names this org trades with
    countries: tuple[tuple[str, float], ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


ORGS: tuple[OrgSpec, ...] = (
    OrgSpec(
        slug="acme-retail",
        name="Acme Retail",
        base_currency="USD",
        timezone="UTC",
        customers=2_000,
        transactions=150_000,
        merchant_slot=0,
        countries=(("US", 70), ("CA", 10), ("GB", 6), ("MX", 4), ("AU", 3), ("DE", 3), ("FR", 2),
                   ("IE", 1), ("NL", 1)),
        first_names=_US_FIRST,
        last_names=_US_LAST,
    ),
    OrgSpec(
        slug="globex",
        name="Globex",
        base_currency="EUR",
        timezone="Europe/Berlin",
        customers=200,
        transactions=10_000,
        merchant_slot=1,
        countries=(("DE", 30), ("FR", 20), ("NL", 10), ("ES", 10), ("IT", 10), ("BE", 5),
                   ("AT", 5), ("IE", 4), ("PL", 4), ("GB", 2)),
        first_names=_EU_FIRST,
        last_names=_EU_LAST,
    ),
)  # fmt: skip


@dataclass
class OrgSeedResult:
    slug: str
    created: bool  # False when the org already existed and was left untouched
    customers: int
    merchants: int
    transactions: int


def seed_demo(
    engine: Engine, *, as_of: date | None = None, scale: float = 1.0, seed: int = 42
) -> list[OrgSeedResult]:
    """Create the demo organisations, users, customers, merchants and transactions.

    History covers the 24 months ending on `as_of` (inclusive; default today's UTC date). `scale`
    multiplies customer and transaction counts; merchants and categories stay fixed. Everything
    runs in one database transaction; organisations and users that already exist are left alone.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    as_of = as_of or datetime.now(UTC).date()
    started = time.perf_counter()
    results: list[OrgSeedResult] = []
    event_histories: list[Callable[[], None]] = []
    with engine.begin() as conn:
        conn.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK_KEY)))
        for spec in ORGS:
            results.append(
                _seed_org(conn, spec, as_of=as_of, scale=scale, seed=seed, later=event_histories)
            )
        # Events (and the leads they create) come after every organisation's customers, so the
        # customers' ids are what they were before the demo had events.
        for seed_history in event_histories:
            seed_history()
        users_created = _seed_users(conn)
        if any(result.created for result in results) or users_created:
            # Dashboards query right after seeding; fresh statistics keep the planner honest.
            for table in (
                "organizations",
                "users",
                "merchants",
                "customers",
                "transactions",
                "events",
                "event_ids",
                "plans",
                "shops",
                "invoices",
                "payments",
            ):
                conn.execute(text(f"ANALYZE {table}"))
    logger.info("demo data seeded in %.1f s", time.perf_counter() - started)
    return results


def main_summary(results: Sequence[OrgSeedResult]) -> str:
    """One line per organisation, for the CLI."""
    lines = []
    for result in results:
        state = "created" if result.created else "already present, left untouched"
        lines.append(
            f"{result.slug}: {state} ({result.customers:,} customers, "
            f"{result.merchants:,} merchants, {result.transactions:,} transactions)"
        )
    return "\n".join(lines)


# --- organisations and users ---------------------------------------------------------------------


def _seed_org(
    conn: Connection,
    spec: OrgSpec,
    *,
    as_of: date,
    scale: float,
    seed: int,
    later: list[Callable[[], None]],
) -> OrgSeedResult:
    orgs = Organization.__table__
    org_id = conn.execute(select(orgs.c.id).where(orgs.c.slug == spec.slug)).scalar()
    if org_id is not None:
        return _existing_org_result(conn, spec.slug, org_id)

    started = time.perf_counter()
    org_id = conn.execute(
        insert(orgs)
        .values(
            name=spec.name,
            slug=spec.slug,
            base_currency=spec.base_currency,
            timezone=spec.timezone,
        )
        .returning(orgs.c.id)
    ).scalar_one()
    # One stream per organisation, so Acme's rows do not depend on whether Globex is seeded too.
    rng = random.Random(f"spendlens-demo:{seed}:{spec.slug}:{as_of.isoformat()}")
    world = _DemoWorld(spec, rng, as_of=as_of, scale=scale)

    merchant_ids = _insert_merchants(conn, org_id, world.merchants)
    customers = world.make_customers()
    customer_ids = _copy_customers(conn, org_id, customers)
    # Without statistics (a fresh database) the planner checks each transaction's foreign key with
    # a sequential scan of customers: 5x slower at scale 1.0. ANALYZE counts our uncommitted rows.
    conn.execute(text("ANALYZE customers, merchants"))
    rows = world.make_transactions(customers)
    _copy_transactions(conn, org_id, world, rows, customer_ids, merchant_ids)
    later.append(lambda: _seed_events(conn, org_id, world, customers, rows, seed=seed, as_of=as_of))
    logger.info(
        "seeded %s: %d customers, %d transactions in %.1f s",
        spec.slug,
        len(customers),
        len(rows),
        time.perf_counter() - started,
    )
    return OrgSeedResult(
        slug=spec.slug,
        created=True,
        customers=len(customers),
        merchants=len(world.merchants),
        transactions=len(rows),
    )


def _existing_org_result(conn: Connection, slug: str, org_id: int) -> OrgSeedResult:
    def count(table: type[Customer] | type[Merchant] | type[Transaction]) -> int:
        t = table.__table__
        return conn.execute(select(func.count()).where(t.c.org_id == org_id)).scalar_one()

    return OrgSeedResult(
        slug=slug,
        created=False,
        customers=count(Customer),
        merchants=count(Merchant),
        transactions=count(Transaction),
    )


def _seed_users(conn: Connection) -> int:
    users, orgs = User.__table__, Organization.__table__
    emails = [email for email, *_ in DEMO_USERS]
    existing = set(conn.execute(select(users.c.email).where(users.c.email.in_(emails))).scalars())
    slugs = {slug for *_, slug in DEMO_USERS}
    org_ids = dict(conn.execute(select(orgs.c.slug, orgs.c.id).where(orgs.c.slug.in_(slugs))).all())
    created = 0
    for email, full_name, role, slug in DEMO_USERS:
        if email in existing:
            continue
        conn.execute(
            insert(users).values(
                org_id=org_ids[slug],
                email=email,
                full_name=full_name,
                # Hashed per user (argon2 salts each hash); only for users actually created.
                password_hash=hash_password(DEMO_PASSWORD),
                role=role,
                is_active=True,
                token_version=1,
            )
        )
        created += 1
    return created


def _seed_events(
    conn: Connection,
    org_id: int,
    world: _DemoWorld,
    customers: list[_DemoCustomer],
    rows: list[_Row],
    *,
    seed: int,
    as_of: date,
) -> None:
    started = time.perf_counter()
    count = demo_events.seed_events(
        conn,
        org_id,
        slug=world.spec.slug,
        seed=seed,
        as_of=as_of,
        history_start=world.first_day,
        currency=world.spec.base_currency,
        customers=[
            demo_events.DemoCustomer(
                c.external_id, c.name, c.email, c.signup_date, c.lifecycle_stage == "churned"
            )
            for c in customers
        ],
        # Numbered as _copy_transactions numbers them (T0000001 … in time order).
        purchases=[
            demo_events.DemoPurchase(float(at), i, cents, f"T{n:07d}")
            for n, (at, _, i, _m, cents, *_rest) in enumerate(rows, start=1)
            if cents > 0
        ],
    )
    logger.info(
        "seeded %s: %d events in %.1f s", world.spec.slug, count, time.perf_counter() - started
    )


# --- generation ----------------------------------------------------------------------------------


@dataclass
class _DemoCustomer:
    external_id: str
    name: str
    email: str
    country: str
    signup_date: date
    lifecycle_stage: str
    first_day: int  # index into the history of the first day they can buy
    last_day: int  # index of the last day they buy (earlier than the end for churned customers)
    rate: float  # relative purchase rate: gamma-distributed, so a few heavy buyers
    spend: float  # multiplier on every amount: some customers simply spend more per visit
    taste_cum: list[float]  # cumulative category weights
    favourites: list[int]  # per category, the index into `merchants` of their usual merchant


@dataclass(frozen=True)
class _DemoMerchant:
    name: str
    category: int


# (seconds since the first day 00:00 UTC, sequence, customer index, merchant index, cents,
#  category index, description, quantity)
_Row = tuple[int, int, int, int, int, int, str, int]


class _DemoWorld:
    """Everything drawn for one organisation, from one random stream in a fixed order."""

    def __init__(self, spec: OrgSpec, rng: random.Random, *, as_of: date, scale: float) -> None:
        self.spec = spec
        self.rng = rng
        self.first_day = _months_before(as_of, HISTORY_MONTHS) + timedelta(days=1)
        self.days = (as_of - self.first_day).days + 1
        self.customer_count = max(1, round(spec.customers * scale))
        # Every customer buys at least once, so tiny scales keep at least one purchase each.
        total = round(spec.transactions * scale)
        self.refund_count = round(total * REFUND_SHARE)
        self.purchase_count = max(self.customer_count, total - self.refund_count)

        day_dates = [self.first_day + timedelta(days=d) for d in range(self.days)]
        self.day_labels = [d.isoformat() for d in day_dates]
        base = [_SEASON[d.month - 1] * _WEEKDAY[d.weekday()] for d in day_dates]
        self.base_cum = [0.0, *accumulate(base)]
        self.category_day_cum: list[list[float]] = []
        for category in CATEGORIES:
            season = _TRAVEL_SEASON if category.name == "Travel" else _SEASON
            weights = [
                season[d.month - 1] ** category.holiday * _WEEKDAY[d.weekday()] for d in day_dates
            ]
            self.category_day_cum.append([0.0, *accumulate(weights)])
        # Times follow the local clock; rows stay on their UTC day so the history window holds.
        zone = ZoneInfo(spec.timezone)
        self.utc_offsets = [
            int(zone.utcoffset(datetime(d.year, d.month, d.day, 12)).total_seconds())
            for d in day_dates
        ]
        self.hour_cum = list(accumulate(_HOURS))

        self.merchants: list[_DemoMerchant] = []
        self.merchants_by_category: list[list[int]] = []
        self.merchant_popularity_cum: list[list[float]] = []
        slot = spec.merchant_slot * 5
        for c, category in enumerate(CATEGORIES):
            indexes = []
            for name in category.merchants[slot : slot + 5]:
                indexes.append(len(self.merchants))
                self.merchants.append(_DemoMerchant(name, c))
            # A few big chains and some small shops in every category.
            popularity = [1.0, 0.7, 0.5, 0.35, 0.25]
            rng.shuffle(popularity)
            self.merchants_by_category.append(indexes)
            self.merchant_popularity_cum.append(list(accumulate(popularity)))
        self.sideline = [
            next(i for i, c in enumerate(CATEGORIES) if c.name == category.sideline)
            for category in CATEGORIES
        ]

    def make_customers(self) -> list[_DemoCustomer]:
        rng, spec, days = self.rng, self.spec, self.days
        countries = [code for code, _ in spec.countries]
        country_cum = list(accumulate(weight for _, weight in spec.countries))
        customers = []
        for _ in range(self.customer_count):
            if rng.random() < PRE_HISTORY_SHARE:
                signup_offset = -rng.randint(1, PRE_HISTORY_DAYS)
            else:
                # Density rising over time: the business is growing.
                signup_offset = min(days - 1, int(days * rng.random() ** 0.85))
            first_day = max(0, signup_offset)
            churned = first_day <= days - 200 and rng.random() < CHURN_PROBABILITY
            last_day = days - 1
            if churned:
                last_day = rng.randint(first_day + 30, days - 1 - CHURN_MIN_QUIET_DAYS)
            first_name = rng.choice(spec.first_names)
            last_name = rng.choice(spec.last_names)
            country = countries[bisect.bisect(country_cum, rng.random() * country_cum[-1])]
            taste = [c.share * rng.gammavariate(0.6, 1.0) for c in CATEGORIES]
            customers.append(
                _DemoCustomer(
                    external_id="",  # numbered below, once customers are in signup order
                    name=f"{first_name} {last_name}",
                    # Completed with the customer number below, which keeps emails unique.
                    email=f"{_email_part(first_name)}.{_email_part(last_name)}",
                    country=country,
                    signup_date=self.first_day + timedelta(days=signup_offset),
                    lifecycle_stage="churned" if churned else "customer",
                    first_day=first_day,
                    last_day=last_day,
                    rate=rng.gammavariate(PURCHASE_RATE_SHAPE, 1.0),
                    spend=rng.lognormvariate(0.0, 0.3),
                    taste_cum=list(accumulate(taste)),
                    favourites=[
                        self._pick_merchant(c, rng.random()) for c in range(len(CATEGORIES))
                    ],
                )
            )
        # Oldest customer first, so external ids read in signup order (sort is stable for ties).
        customers.sort(key=lambda customer: customer.signup_date)
        for n, customer in enumerate(customers, start=1):
            customer.external_id = f"C{n:06d}"
            customer.email = f"{customer.email}{n}@example.com"
        return customers

    def make_transactions(self, customers: list[_DemoCustomer]) -> list[_Row]:
        rng = self.rng
        # Expected purchases follow each customer's rate over their (season-weighted) active days.
        expected = [
            c.rate * (self.base_cum[c.last_day + 1] - self.base_cum[c.first_day]) for c in customers
        ]
        counts = [1] * len(customers)
        extra = self.purchase_count - len(customers)
        for i in rng.choices(range(len(customers)), weights=expected, k=extra):
            counts[i] += 1

        rows: list[_Row] = []
        category_indexes = range(len(CATEGORIES))
        for i, (customer, count) in enumerate(zip(customers, counts)):
            categories = rng.choices(category_indexes, cum_weights=customer.taste_cum, k=count)
            for c in categories:
                if rng.random() < FAVOURITE_MERCHANT_SHARE:
                    m = customer.favourites[c]
                else:
                    m = self._pick_merchant(c, rng.random())
                if rng.random() < SIDELINE_SHARE:
                    c = self.sideline[c]
                rows.append(self._purchase(len(rows), i, m, c, customer))
        rows.extend(self._refunds(rows))
        rows.sort()
        return rows

    def _purchase(self, seq: int, i: int, m: int, c: int, customer: _DemoCustomer) -> _Row:
        rng = self.rng
        category = CATEGORIES[c]
        cum = self.category_day_cum[c]
        lo, hi = cum[customer.first_day], cum[customer.last_day + 1]
        day = bisect.bisect_right(cum, lo + rng.random() * (hi - lo)) - 1
        day = min(max(day, customer.first_day), customer.last_day)
        hour = bisect.bisect(self.hour_cum, rng.random() * self.hour_cum[-1])
        local_seconds = hour * 3600 + int(rng.random() * 3600)
        seconds = (local_seconds - self.utc_offsets[day]) % 86400
        quantity = bisect.bisect(_QUANTITY_CUM, rng.random() * _QUANTITY_CUM[-1]) + 1
        amount = (
            rng.lognormvariate(math.log(category.median), category.sigma)
            * customer.spend
            # Bigger baskets cost more, though not linearly; the divisor brings the median line
            # back to the category's median.
            * (1 + 0.3 * (quantity - 1))
            / 1.16
        )
        cents = max(1, round(amount * 100))
        description = f"{self.merchants[m].name}: {rng.choice(category.items)}"
        return (day * 86400 + seconds, seq, i, m, cents, c, description, quantity)

    def _refunds(self, purchases: list[_Row]) -> list[_Row]:
        rng = self.rng
        end = self.days * 86400 - 1  # last second of as_of, UTC
        eligible = [k for k, row in enumerate(purchases) if row[0] <= end - 3600]
        picked = sorted(rng.sample(eligible, min(self.refund_count, len(eligible))))
        refunds = []
        for n, k in enumerate(picked):
            at, _, i, m, cents, c, description, quantity = purchases[k]
            # Mostly within days of the purchase, sometimes weeks later; never after as_of.
            longest = min(30 * 86400, end - at)
            delay = 3600 + int(rng.random() ** 2 * (longest - 3600))
            seq = len(purchases) + n
            refunds.append((at + delay, seq, i, m, -cents, c, f"Refund: {description}", quantity))
        return refunds

    def _pick_merchant(self, c: int, u: float) -> int:
        cum = self.merchant_popularity_cum[c]
        return self.merchants_by_category[c][bisect.bisect(cum, u * cum[-1])]

    def timestamp(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86400)
        return f"{self.day_labels[day]} {rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}+00"


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    # Clamp to the month's length (31 March minus one month is 28/29 February).
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def _email_part(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


# --- loading -------------------------------------------------------------------------------------


def _insert_merchants(conn: Connection, org_id: int, merchants: list[_DemoMerchant]) -> list[int]:
    """Database ids in the order of `merchants`."""
    table = Merchant.__table__
    conn.execute(
        insert(table),
        [
            {"org_id": org_id, "name": m.name, "default_category": CATEGORIES[m.category].name}
            for m in merchants
        ],
    )
    ids = dict(conn.execute(select(table.c.name, table.c.id).where(table.c.org_id == org_id)).all())
    return [ids[m.name] for m in merchants]


def _copy(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """COPY rows in CSV form on the connection's own transaction: far faster than INSERTs."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    dbapi_connection = conn.connection.driver_connection
    with dbapi_connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )


def _copy_customers(conn: Connection, org_id: int, customers: list[_DemoCustomer]) -> list[int]:
    """Database ids in the order of `customers`, read back by external id."""
    _copy(
        conn,
        "customers",
        ("org_id", "external_id", "name", "email", "country", "signup_date", "lifecycle_stage"),
        [
            (
                org_id,
                c.external_id,
                c.name,
                c.email,
                c.country,
                c.signup_date.isoformat(),
                c.lifecycle_stage,
            )
            for c in customers
        ],
    )
    table = Customer.__table__
    ids = dict(
        conn.execute(select(table.c.external_id, table.c.id).where(table.c.org_id == org_id)).all()
    )
    return [ids[c.external_id] for c in customers]


def _copy_transactions(
    conn: Connection,
    org_id: int,
    world: _DemoWorld,
    rows: list[_Row],
    customer_ids: list[int],
    merchant_ids: list[int],
) -> None:
    # Rows arrive sorted by time, so ids and external ids both read chronologically.
    currency = world.spec.base_currency
    category_names = [c.name for c in CATEGORIES]
    _copy(
        conn,
        "transactions",
        (
            "org_id",
            "customer_id",
            "merchant_id",
            "occurred_at",
            "amount",
            "currency",
            "category",
            "description",
            "quantity",
            "kind",
            "external_id",
        ),
        [
            (
                org_id,
                customer_ids[i],
                merchant_ids[m],
                world.timestamp(at),
                _money(cents),
                currency,
                category_names[c],
                description,
                quantity,
                "purchase" if cents > 0 else "refund",
                f"T{n:07d}",
            )
            for n, (at, _, i, m, cents, c, description, quantity) in enumerate(rows, start=1)
        ],
    )
