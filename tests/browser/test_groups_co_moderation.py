"""Co-moderating a group in Chromium: two therapists, one group.

Ana hosts a group from the Groups screen and names Bo, a colleague from the
signed directory, co-moderator. Bo finds it under "Groups you were asked to
co-moderate", takes it up under a name for the group, and writes; Ana reads
it, and her screen offers to remove the co-moderator she named. Both screens
pass the accessibility audit at 320, 390 and 1280 px.
"""

import pytest
from browser_flows import (
    DESKTOP,
    PHONE,
    SLOW,
    go,
    invite_therapist,
    join_as_therapist,
)
from playwright.sync_api import expect
from test_accessibility import audit

pytestmark = pytest.mark.browser


def test_a_therapist_names_a_co_moderator_who_takes_the_group_up(practice, open_tab):
    bo = open_tab(PHONE)
    join_as_therapist(bo.page, invite_therapist(practice.data_dir), {"display_name": "Bo Lind"})
    ana = open_tab(DESKTOP)
    join_as_therapist(ana.page, invite_therapist(practice.data_dir), {"display_name": "Ana Ruiz"})

    go(ana.page, "groups")
    ana.page.fill("#host-name", "Evening circle")
    ana.page.fill("#host-you", "Ana")
    ana.page.click("#main form button[type='submit']")
    ana.page.wait_for_selector("#main[data-screen='group']", timeout=SLOW)
    choice = ana.page.locator("#group-co-moderator")
    expect(choice.locator("option")).to_have_text(["Bo Lind"], timeout=SLOW)
    ana.page.click("text=Add a co-moderator")
    expect(ana.page.locator("#group-co-moderator-remove")).to_contain_text(
        "Remove co-moderator Bo Lind", timeout=SLOW
    )
    audit(ana.page, "group with a co-moderator")

    go(bo.page, "groups")
    offer = bo.page.locator("#moderation-offers li")
    expect(offer).to_have_count(1, timeout=SLOW)
    audit(bo.page, "groups with an offer to co-moderate")
    offer.locator("input").fill("Bo")
    offer.locator("button").click()
    bo.page.wait_for_selector("#main[data-screen='group']", timeout=SLOW)
    expect(bo.page.locator("#group-title")).to_have_text("Evening circle", timeout=SLOW)
    # Bo moderates too: the moderation tools are his.
    expect(bo.page.locator("#group-pause")).to_be_visible()
    bo.page.fill("#group-composer", "Hello, I co-moderate")
    bo.page.click("#main form[aria-label='Write to the group'] button[type='submit']")
    expect(ana.page.locator("#group-messages")).to_contain_text(
        "Hello, I co-moderate", timeout=SLOW
    )
