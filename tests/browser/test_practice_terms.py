"""What the practice sets and what therapists and clients read: the vocabulary
of specialties and languages, the crisis notice on a phone, client labels and
private names, office hours with their time zone."""

import re

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    fill_profile,
    go,
    invite_therapist,
    open_app,
    open_therapist,
    open_thread,
    send,
    sign_in,
    start_anonymously,
    wait_for_count,
    wait_for_state,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CRISIS = "Night line: 0800 000 000."


@pytest.fixture
def practice(server_factory, neutral_site):
    return server_factory(
        exit_url=neutral_site,
        neutral_title="Notes",
        crisis_text=CRISIS,
        specialties="Anxiety, Trauma, Sex work",
        languages="English, Español, Français, العربية",
    )


def open_in(browser, practice, viewport, timezone):
    context = browser.new_context(viewport=viewport, timezone_id=timezone)
    page = context.new_page()
    page.goto(practice.url)
    page.wait_for_selector("#main[data-screen='welcome']")
    return context, page


def join(page, practice, profile, ticks=()):
    page.click("#join-therapist")
    page.fill("#invite-code", invite_therapist(practice.data_dir))
    page.click("#invite-continue")
    page.wait_for_selector("#secret-value")
    groups = page.locator("#secret-value .secret__group").all_inner_texts()
    number = int(page.locator("label[for='secret-check']").get_attribute("data-group"))
    page.fill("#secret-check", groups[number - 1])
    page.click("#secret-continue")
    page.wait_for_selector("#main[data-screen='profile']", timeout=SLOW)
    fill_profile(page, profile)
    for label in ticks:
        page.get_by_label(label, exact=True).check()
    page.click("#save-profile")
    page.wait_for_selector("#main[data-screen='inbox']", timeout=SLOW)
    return "-".join(groups)


def test_vocabulary_crisis_labels_names_and_time_zones(browser, practice):
    berlin, tpage = open_in(browser, practice, DESKTOP, "Europe/Berlin")
    # Ticked from the practice's list, or typed in another spelling: one term.
    secret = join(
        tpage,
        practice,
        {
            "display_name": "Ana Ruiz",
            "languages": ["englsh"],
            "office_hours": "Mon-Thu 9:00-17:00",
        },
        ticks=("Anxiety", "Español"),
    )
    other, opage = open_in(browser, practice, DESKTOP, "Europe/Berlin")
    join(opage, practice, {"display_name": "Sam Lee", "specialties": ["ANXIETY", "Grief"]})
    other.close()

    york, page = open_in(browser, practice, PHONE, "America/New_York")
    # Not for emergencies, with the practice's own words, on the first screen of a phone.
    notice = page.locator("#crisis-notice")
    expect(notice).to_contain_text("Not for emergencies")
    expect(notice).to_contain_text(CRISIS)
    box = notice.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    start_anonymously(page)
    wait_for_count(page, ".therapist", 2)
    options = page.locator("#filter-language option").all_inner_texts()
    assert options == ["Any language", "English", "Español", "Français", "العربية"]
    specialties = page.locator("#filter-specialty option").all_inner_texts()
    assert specialties == ["Any specialty", "Anxiety", "Trauma", "Sex work", "Grief"]
    page.select_option("#filter-specialty", "Anxiety")
    wait_for_count(page, ".therapist", 2)
    page.select_option("#filter-language", "English")
    wait_for_count(page, ".therapist", 1)
    ana = page.locator("[data-therapist='Ana Ruiz']")
    expect(ana).to_contain_text("English")
    # Office hours say whose clock they are on.
    expect(ana).to_contain_text("Mon-Thu 9:00-17:00 (Europe/Berlin time)")
    open_therapist(page, "Ana Ruiz")
    expect(page.locator("#crisis-line")).to_be_visible()
    expect(page.locator("#crisis-line")).to_contain_text("Not for emergencies")
    send(page, "Hello.")
    wait_for_state(page, 0, "sent", "delivered", "read")

    # The therapist sees a long label and an avatar from it, then names the client.
    tpage.wait_for_selector(".thread-row", timeout=SLOW)
    label = tpage.locator(".thread-row").first.get_attribute("data-peer-name")
    code = re.fullmatch(r"Client ([0-9A-HJKMNP-TV-Z]{4})-([0-9A-HJKMNP-TV-Z]{4})", label)
    assert code, label
    expect(tpage.locator(".thread-row .avatar")).to_have_text(code.group(1)[:2])
    open_thread(tpage, label)
    tpage.fill("#private-name", "Mina")
    tpage.click("#save-private-name")
    expect(tpage.locator("#private-name-status")).to_have_text("Saved.", timeout=SLOW)
    expect(tpage.locator("#thread-title")).to_have_text("Mina")
    tpage.click(".thread__back")
    expect(tpage.locator(".thread-row[data-peer-name='Mina'] .avatar")).to_have_text("M")
    # Kept in the vault: the therapist's other computer knows the name.
    again, apage = open_in(browser, practice, DESKTOP, "Europe/Berlin")
    sign_in(apage, secret)
    go(apage, "inbox")
    open_thread(apage, "Mina")
    expect(apage.locator("#private-name")).to_have_value("Mina")
    for context in (berlin, york, again):
        context.close()


def test_without_a_vocabulary_profiles_are_free_text(browser, server_factory, neutral_site):
    plain = server_factory(exit_url=neutral_site)
    tab = open_app(browser, plain.url, DESKTOP)
    join(tab.page, plain, {"display_name": "Kim", "specialties": ["Grief"]})
    go(tab.page, "profile")
    assert tab.page.locator("#profile-specialties-0").count() == 0
    expect(tab.page.locator("label[for='profile-specialties']")).to_have_text("Specialties")
    expect(tab.page.locator("#profile-specialties")).to_have_value("Grief")
    tab.context.close()
