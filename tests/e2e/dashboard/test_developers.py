"""The Developers page in a real browser against the real platform (issue 24): the dev user
creates an API key, sees it once and copies it, the key then works against the API and shows
as used in the list, the key is nowhere in the page once its panel is closed or the page is
reloaded, and revoking it (after a confirmation) makes the API refuse it. Every state is checked
as the other dashboard tests check theirs (browser.Visit.check: console, axe-core, screenshots
at desktop and phone width in .test-artifacts/dashboard/)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from shared.contracts.api_keys import KEY_PATTERN
from tests.e2e.dashboard.conftest import Dashboard
from tests.e2e.dashboard.test_app import REFUSED_LOAD, api_token, browsing, sign_in

pytestmark = pytest.mark.timeout(300)


async def revoke_all_keys(dashboard: Dashboard) -> None:
    """Every key of the dev user revoked (another run on the same database left some)."""
    headers = await api_token(dashboard, "user")
    async with httpx.AsyncClient(timeout=10) as http:
        listed = await http.get(f"{dashboard.url}/api/keys", headers=headers)
        assert listed.status_code == 200, listed.text
        for key in listed.json()["items"]:
            revoked = await http.delete(f"{dashboard.url}/api/keys/{key['id']}", headers=headers)
            assert revoked.status_code == 204, revoked.text


async def with_key(dashboard: Dashboard, key: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(
            f"{dashboard.url}/api/agents", headers={"Authorization": f"Bearer {key}"}
        )
    return answer.status_code


async def test_an_api_key_is_created_shown_once_copied_used_and_revoked(
    dashboard: Dashboard,
) -> None:
    await revoke_all_keys(dashboard)
    async with browsing(dashboard, "developers") as (_, visit):
        page = visit.page
        await page.context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=dashboard.url
        )
        await sign_in(visit)
        await page.get_by_role("link", name="Developers", exact=True).click()
        await expect(page.get_by_role("heading", name="Developers", exact=True)).to_be_visible()
        await expect(page.get_by_text("No API keys yet.")).to_be_visible()
        await visit.check("keys-empty")

        # No name: said beside the field before anything is sent; a bad one: the server's 422.
        name = page.get_by_label("Name", exact=True)
        create = page.get_by_role("button", name="Create key")
        await create.click()
        await expect(page.locator("#key-name-error")).to_have_text(
            "Enter a name that says what the key is for, such as crm-sync."
        )
        await name.fill("crm sync!")
        visit.allow(REFUSED_LOAD.format(422))
        await create.click()
        await expect(name).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#key-name-error")).to_contain_text("letters, digits")
        await visit.check("keys-invalid")

        # Created: shown once, copied, and it works.
        await name.fill("crm-sync")
        await create.click()
        panel = page.get_by_role("region", name="Your new API key crm-sync")
        await expect(panel).to_be_visible()
        key = await panel.get_by_label("API key crm-sync").input_value()
        assert re.fullmatch(KEY_PATTERN, key)
        await expect(panel.locator("pre")).to_contain_text(f"Bearer {key}")
        await panel.get_by_role("button", name="Copy").click()
        await expect(panel.get_by_text("Copied to the clipboard.")).to_be_visible()
        assert await page.evaluate("() => navigator.clipboard.readText()") == key
        row = page.locator('tr[data-key="crm-sync"]')
        await expect(row.locator('td[data-label="Key"]')).to_have_text(f"{key[:12]}…")
        await expect(row.locator('td[data-label="Last used"]')).to_have_text("never")
        await visit.check("keys-new-key")

        assert await with_key(dashboard, key) == 200
        await panel.get_by_role("button", name="I have copied it").click()
        await expect(panel).to_have_count(0)
        assert key not in await page.content()
        await page.reload()
        await expect(row.locator('td[data-label="Last used"]')).to_have_text("just now")
        assert key[12:] not in await page.content()
        await visit.check("keys-listed")

        # Revoked after a confirmation: gone from the list, refused by the API.
        await row.get_by_role("button", name="Revoke crm-sync").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Revoke API key crm-sync?")
        await visit.check("keys-revoke-confirm")
        await dialog.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_text("API key crm-sync was revoked.")).to_be_visible()
        await expect(row).to_have_count(0)
        assert await with_key(dashboard, key) == 401
        await visit.check("keys-revoked")


async def test_a_webhook_is_added_its_secret_shown_once_paused_and_deleted(
    dashboard: Dashboard,
) -> None:
    user = await api_token(dashboard, "user")
    async with httpx.AsyncClient(timeout=10) as http:
        for hook in (await http.get(f"{dashboard.url}/api/webhooks", headers=user)).json()["items"]:
            await http.delete(f"{dashboard.url}/api/webhooks/{hook['id']}", headers=user)
    async with browsing(dashboard, "developers-webhooks") as (_, visit):
        page = visit.page
        await sign_in(visit)
        await page.get_by_role("link", name="Developers", exact=True).click()
        await expect(page.get_by_text("No webhooks yet. Add one below.")).to_be_visible()

        # Nothing chosen: said before anything is sent; an internal address: the server's 422.
        url = page.get_by_label("URL", exact=True)
        add = page.get_by_role("button", name="Add webhook")
        await add.click()
        await expect(page.locator("#webhook-url-error")).to_contain_text("Enter the URL")
        await url.fill("http://127.0.0.1:9/hook")
        visit.allow(REFUSED_LOAD.format(422))
        await add.click()
        await expect(page.locator("#webhook-url-error")).to_contain_text("internal address")
        await visit.check("webhooks-refused")

        # A public one (an IP literal: nothing to resolve), the secret shown once.
        await url.fill("https://93.184.215.14/hooks/voxie")
        await page.get_by_label("A call started").uncheck()
        await add.click()
        panel = page.get_by_role(
            "region", name="The signing secret of https://93.184.215.14/hooks/voxie"
        )
        await expect(panel).to_be_visible()
        secret = await panel.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        row = page.locator('tr[data-webhook="https://93.184.215.14/hooks/voxie"]')
        await expect(row.locator('td[data-label="Events"]')).to_have_text("call.ended")
        await expect(row.locator('td[data-label="State"]')).to_have_text("Active")
        await visit.check("webhooks-new-secret")
        await panel.get_by_role("button", name="I have copied it").click()
        assert secret not in await page.content()

        await row.get_by_role("button", name="Deliveries").click()
        await expect(page.get_by_text("Nothing sent yet")).to_be_visible()
        await row.get_by_role("button", name="Pause").click()
        await expect(row.locator('td[data-label="State"]')).to_have_text("Paused")
        await visit.check("webhooks-paused")

        await row.get_by_role("button", name="Delete https://93.184.215.14/hooks/voxie").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        await visit.check("webhooks-deleted")
