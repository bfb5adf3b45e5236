"""Browser test: the Create page's budget bar shows the team budget and keeps the estimated
cost in step with the form (budget.js asks the dry-run estimate), and says before Generate
when the budget would refuse the request."""

from decimal import Decimal

import pytest

from tests.factories import PASSWORD, make_job, make_team, make_user
from usage.models import Limit, Price

pytestmark = [pytest.mark.e2e]


def test_budget_bar_estimates_as_the_form_changes(live_server, browser):
    Price.objects.update_or_create(
        backend="demo", model="", defaults={"per_image": Decimal("0.01")}
    )
    team = make_team("Studio")
    user = make_user("painter", team=team, role="owner")
    Limit.objects.create(team=team, budget=Decimal("0.05"), soft_threshold_percent=50)
    make_job(user, n=3)  # $0.03 of $0.05 spent
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "painter")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    bar = page.locator("[data-budget-bar]")
    assert "Team Studio budget" in bar.inner_text() and "$0.03" in bar.inner_text()
    page.wait_for_selector("#cost-estimate:has-text('for 1 image')")
    assert "$0.01" in page.locator("#cost-estimate").inner_text()

    page.select_option("select[name=n]", "2")
    page.wait_for_selector("#cost-estimate:has-text('for 2 images')")
    assert "$0.02" in page.locator("#cost-estimate").inner_text()
    assert page.locator("#cost-refusal").inner_text() == ""

    page.select_option("select[name=n]", "4")  # $0.03 + $0.04 would pass $0.05
    page.wait_for_selector("#cost-refusal:has-text('used up')")
    assert "$0.04" in page.locator("#cost-estimate").inner_text()
    page.close()
