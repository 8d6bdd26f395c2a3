"""What users wrote never runs as code in the dashboard, whoever looks at it (issue 18).

One organisation is filled, through the real API, with script payloads in every text field a user
can write (organisation and user names, customers, merchants, categories, transactions, an
import's file name and cell values); then the viewer, the analyst and the admin each visit every
page in their own browser context, pickers opened, the hostile customer's page opened, and
nothing may run: no `window.__xss`, no dialog, and no element the payloads would have created
(checked in the DOM too, so that escaping is tested on its own, not only the CSP behind it).

Also here: the security headers of the pages and the binding of download links to the browser.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from bokeh.util.token import get_token_payload
from dashboard_support import ANALYST, BrowserPage, log_in, open_table_row, wait_for_job
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.pages import NAVIGATION, PAGES
from spendlens_dashboard.probes import chart_box
from spendlens_dashboard.security import BROWSER_COOKIE

MARK = "__xss"


def img(where: str) -> str:
    return f"<img src=x onerror=\"window.{MARK}='{where}'\">"


def script(where: str) -> str:
    return f"<script>window.{MARK}='{where}'</script>"


def svg(where: str) -> str:
    return f'"><svg onload="window.{MARK}=\'{where}\'">'


def link(where: str) -> str:
    return f"[{where}](javascript:window.{MARK}='{where}')"


PAYLOADS = (img, script, svg, link)
# Walks the page and its (open) shadow roots, where Bokeh renders every pane, for what the
# payloads would have become had they been inserted as HTML.
FIND_INJECTED = """
() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of el.attributes) {
        const name = a.name.toLowerCase(), value = a.value || '';
        if ((name.startsWith('on') && value.includes('__xss'))
            || (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name)
                && /^\\s*javascript:/i.test(value))) {
          found.push(el.outerHTML.slice(0, 160));
        }
      }
      if (el.tagName === 'SCRIPT' && (el.textContent || '').includes('__xss')) {
        found.push(el.outerHTML.slice(0, 160));
      }
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  return {ran: window.__xss === undefined ? null : String(window.__xss), injected: found};
}
"""


@dataclass
class HostileOrg:
    logins: dict[str, tuple[str, str]]
    customer_names: list[str]
    categories: list[str]
    merchants: list[str]
    bad_file_name: str
    bad_value: str


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _import(client: ApiClient, name: str, rows: list[dict], kind: str) -> None:
    job = client.upload_import(name, _csv(rows), kind=kind)
    done = wait_for_job(client, job["id"])
    assert done["state"] == "succeeded", done


@pytest.fixture(scope="module")
def hostile_org(api_url: str, job_worker) -> HostileOrg:
    """A new organisation whose every user-written text is a script payload."""
    suffix = uuid.uuid4().hex[:8]
    admin = (f"admin-{suffix}@hostile.example", "hostile-password-" + suffix)
    answer = httpx.post(
        f"{api_url}/api/v1/auth/signup",
        json={
            "email": admin[0],
            "password": admin[1],
            "full_name": script("user.full_name.admin"),
            "organization_name": img("organization.name") + suffix,
        },
        timeout=30,
    )
    assert answer.status_code == 202, answer.text  # the admin then logs in
    client = ApiClient(api_url)
    client.login(*admin)
    logins = {"admin": admin}
    for role, payload in (("analyst", svg), ("viewer", img)):
        login = (f"{role}-{suffix}@hostile.example", f"{role}-password-{suffix}")
        client.create_user(*login, full_name=payload(f"user.full_name.{role}"), role=role)
        logins[role] = login

    merchants = [payload(f"merchant.name.{i}") for i, payload in enumerate(PAYLOADS)]
    _import(
        client,
        "merchants.csv",
        [
            {"name": name, "default_category": payload(f"merchant.default_category.{i}")}
            for i, (name, payload) in enumerate(zip(merchants, PAYLOADS))
        ],
        "merchants",
    )
    customer_names = [payload(f"customer.name.{i}") for i, payload in enumerate(PAYLOADS)]
    external_ids = [
        f"c{i}-" + payload(f"customer.external_id.{i}") for i, payload in enumerate(PAYLOADS)
    ]
    _import(
        client,
        "customers.csv",
        [
            {
                "external_id": external_ids[i],
                "name": name,
                # The import's email check wants no spaces: the payload takes the short form.
                "email": f"<svg/onload=window.{MARK}='customer.email.{i}'>{i}@x.example",
                "country": "DE",
                "signup_date": "2026-01-15",
                "lifecycle_stage": "customer",
            }
            for i, name in enumerate(customer_names)
        ],
        "customers",
    )
    categories = [payload(f"transaction.category.{i}") for i, payload in enumerate(PAYLOADS)]
    transactions = []
    for i, external_id in enumerate(external_ids):
        for day in (3, 12, 24):
            n = len(transactions)
            transactions.append(
                {
                    "occurred_at": f"2026-06-{day:02d}T10:00:00Z",
                    "customer_external_id": external_id,
                    "customer_name": customer_names[i],
                    "amount": f"{10 + n}.50",
                    "category": categories[n % len(categories)],
                    "merchant": merchants[n % len(merchants)],
                    "description": PAYLOADS[n % len(PAYLOADS)](f"transaction.description.{n}"),
                    "external_id": PAYLOADS[(n + 1) % len(PAYLOADS)](f"transaction.ext.{n}"),
                }
            )
    _import(client, "transactions.csv", transactions, "transactions")

    # A failed import: its file name and the refused value are shown on the Data page.
    bad_file_name = img("job.file_name") + ".csv"
    bad_value = script("import.problem.value")
    bad = dict(transactions[0], amount=bad_value, external_id="bad-1")
    job = client.upload_import(bad_file_name, _csv([bad]))
    assert wait_for_job(client, job["id"])["state"] == "failed"
    client.close()
    return HostileOrg(logins, customer_names, categories, merchants, bad_file_name, bad_value)


def nothing_ran(tab: Page, dialogs: list[str], refused: list[str], where: str) -> None:
    state = tab.evaluate(FIND_INJECTED)
    assert state["ran"] is None, f"{where}: a payload ran ({state['ran']})"
    assert not dialogs, f"{where}: dialogs {dialogs}"
    # Nothing the page needs may be refused by its CSP (and nothing injected may try to run);
    # no script error either (a payload that broke the page's own code would show as one).
    assert not refused, f"{where}: {refused[:3]}"
    assert not state["injected"], f"{where}: payload markup in the page: {state['injected']}"


def log_in_patiently(bp: BrowserPage, email: str, password: str) -> None:
    """Log in as dashboard_support.log_in does, with more time for the overview: the first
    session of a freshly started server builds it cold (seen to take over 15 s under load)."""
    tab = bp.page
    tab.goto(bp.url)
    tab.get_by_placeholder("you@company.example").fill(email)
    tab.get_by_placeholder("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…", timeout=60_000)


def hover_a_bar(tab: Page, title: str) -> None:
    """Move the mouse down the chart until its tooltip shows a hostile label (as text)."""
    box = chart_box(tab, title)
    tooltip = tab.locator(".bk-Tooltip", has_text="window.__xss")
    for step in range(5, 100, 5):
        tab.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * step / 100)
        try:
            tooltip.first.wait_for(state="visible", timeout=700)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"no tooltip with a hostile label on {title}")


def open_picker(tab: Page, placeholder: str, text: str) -> None:
    picker = tab.get_by_placeholder(placeholder)
    picker.click()
    picker.press_sequentially("window")
    expect(tab.get_by_role("option", name=text, exact=True)).to_be_visible()


def open_page(tab: Page, slug: str) -> None:
    tab.get_by_role("button", name=PAGES[slug].title, exact=True).click()


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_no_stored_payload_runs_on_any_page_for_any_role(
    page: BrowserPage, hostile_org: HostileOrg, role: str
):
    tab = page.page
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    refused: list[str] = []
    tab.on("pageerror", lambda error: refused.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    tab.set_viewport_size({"width": 1400, "height": 1800})  # every overview chart in view
    log_in_patiently(page, *hostile_org.logins[role])
    # The header shows the user's and the organisation's names: as text.
    expect(tab.locator(".user-name")).to_have_text(re.compile(r"window\.__xss='user\.full_name"))
    expect(tab.locator(".user-org")).to_contain_text("window.__xss='organization.name'")
    nothing_ran(tab, dialogs, refused, "overview")
    for title in ("Spend by category", "Top merchants"):
        hover_a_bar(tab, title)
        nothing_ran(tab, dialogs, refused, f"tooltip of {title}")

    open_picker(tab, "All categories", hostile_org.categories[0])
    nothing_ran(tab, dialogs, refused, "category picker")
    tab.keyboard.press("Escape")
    open_picker(tab, "Type to search merchants", hostile_org.merchants[1])
    nothing_ran(tab, dialogs, refused, "merchant picker")
    tab.keyboard.press("Escape")

    for slug in NAVIGATION:
        open_page(tab, slug)
        if slug == "transactions":
            expect(tab.locator(".tabulator-row").first).to_be_visible()
            cell = tab.locator(".tabulator-cell", has_text=hostile_org.categories[1]).first
            expect(cell).to_be_visible()
            if role != "viewer":  # the editor, filled with a hostile transaction
                cell.click()
                expect(tab.get_by_role("button", name="Save changes")).to_be_visible()
        elif slug == "customers":
            row = tab.locator(".customers-table .tabulator-row").first
            expect(row).to_be_visible()
            cell = tab.locator(".tabulator-cell", has_text=hostile_org.customer_names[0])
            expect(cell).to_be_visible()
            nothing_ran(tab, dialogs, refused, slug)
            for name in hostile_org.customer_names:
                row = tab.locator(".customers-table .tabulator-row", has_text=name)
                open_table_row(tab, row, ".customer-profile")
                expect(tab.locator(".customer-profile")).to_contain_text(name)
                expect(tab.locator(".customer-recent .tabulator-row").first).to_be_visible()
                nothing_ran(tab, dialogs, refused, f"customer page of {name}")
                tab.get_by_role("button", name="← All customers").click()
        elif slug == "data":
            # (The multipart upload encodes the name's double quotes as %22.)
            expect(tab.locator(".jobs-table")).to_contain_text("<img src=x onerror=")
            if role != "viewer":
                upload_hostile_file(tab, hostile_org)
        nothing_ran(tab, dialogs, refused, slug)


def upload_hostile_file(tab: Page, hostile_org: HostileOrg) -> None:
    """A dry run in the page: the report lists the refused value, and the file's name."""
    tab.locator("select:has(option:text-is('Online Retail (UCI)'))").select_option(
        label="Spendlens CSV (native)"
    )
    content = (
        "occurred_at,customer_external_id,amount,category\n"
        f'2026-06-01T10:00:00Z,x-1,"{hostile_org.bad_value}",Books\n'
    ).encode()
    tab.locator(".import-file input[type=file]").set_input_files(
        files=[{"name": hostile_org.bad_file_name, "mimeType": "text/csv", "buffer": content}]
    )
    tab.get_by_role("button", name="Preview (dry run)").click()
    expect(tab.locator(".import-report .tabulator-row").first).to_contain_text(
        hostile_org.bad_value
    )


# -- headers and downloads ----------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_pages_carry_a_csp_with_nonces_and_refuse_framing(dashboard_url: str):
    answer = httpx.get(dashboard_url, timeout=30)
    assert answer.status_code == 200
    headers = answer.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    csp = csp_directives(headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    script_src = csp["script-src"]
    # ('unsafe-eval' is there for Panel's ReactiveHTML models: see security.py.)
    assert "'unsafe-inline'" not in script_src and "*" not in script_src
    nonces = [s for s in script_src if s.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", answer.text)
    assert inline, "Bokeh's page has inline scripts"
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)
    # A new nonce every time.
    again = csp_directives(httpx.get(dashboard_url, timeout=30).headers["content-security-policy"])
    assert [s for s in again["script-src"] if s.startswith("'nonce-")] != nonces
    # Static files too.
    static = httpx.get(dashboard_url + "static/js/bokeh.min.js", timeout=30)
    assert static.headers["x-content-type-options"] == "nosniff"


def test_the_browser_cookie_is_httponly_and_never_written_into_the_page(dashboard_url: str):
    answer = httpx.get(dashboard_url, timeout=30)
    set_cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = answer.cookies[BROWSER_COOKIE]
    # Bokeh writes the page request's cookies into the session token inside the page, where a
    # script could read them: there the cookie is only a digest, useless as a cookie.
    token = re.search(r'"token":"([^"]+)"', answer.text).group(1)
    in_page = get_token_payload(token)["cookies"][BROWSER_COOKIE]
    assert in_page and in_page != cookie and cookie not in answer.text


def test_a_download_link_works_only_in_the_browser_that_got_it(
    page: BrowserPage, dashboard_url: str
):
    tab = log_in(page, ANALYST)
    open_page(tab, "data")
    link = tab.locator(".data-exports a.export-merchants")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    url = dashboard_url + href
    assert tab.request.get(url).status == 200  # this browser: its cookie goes along
    answer = httpx.get(url, timeout=30)  # the same link without the cookie (curl, another browser)
    assert answer.status_code == 404
    assert "organization" not in answer.text and "," not in answer.text
    cookies = {c["name"]: c["value"] for c in tab.context.cookies()}
    assert cookies, "the dashboard set its browser cookie"
    forged = {name: "x" * len(value) for name, value in cookies.items()}
    assert httpx.get(url, cookies=forged, timeout=30).status_code == 404
    assert httpx.get(url, cookies=cookies, timeout=30).status_code == 200


# -- pure helpers (no browser) -------------------------------------------------------------------


def test_user_text_becomes_inert_html():
    from spendlens_dashboard.formatting import safe_text, text_options
    from spendlens_dashboard.pages.customers import profile_html

    assert (
        safe_text(svg("x")) == "&quot;&gt;&lt;svg onload=&quot;window.__xss=&#x27;x&#x27;&quot;&gt;"
    )
    assert safe_text(None) == ""
    names = [img("a"), "Books & Music"]
    assert text_options(names) == {
        "&lt;img src=x onerror=&quot;window.__xss=&#x27;a&#x27;&quot;&gt;": names[0],
        "Books &amp; Music": names[1],
    }
    profile = profile_html(
        {"name": script("n"), "email": img("e"), "external_id": svg("x"), "country": "DE"}
    )
    assert "<script" not in profile and "<img" not in profile and "<svg" not in profile
    assert profile.startswith("<h2>&lt;script&gt;")
