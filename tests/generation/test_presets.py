"""Presets: named, versioned settings, personal or shared with a team once approved; applied
in the form, the API and the CLI; counted; saved from any image; owned like everything else."""

import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Membership
from generation.models import Job, Preset
from generation.presets import selectors, services
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_image, make_user

pytestmark = pytest.mark.django_db

STUDIO = {
    "size": "portrait_4_3",
    "num_inference_steps": 12,
    "guidance_scale": 4.5,
    "negative_prompt": "blurry, text",
    "acceleration": "regular",
    "prompt_template": "studio photo of {prompt}, softbox light",
    "enhance": False,
}


def _preset(user, name="Studio photo", team=None, **values):
    return services.preset_create(user=user, name=name, values={**STUDIO, **values}, team=team)


# --- The rules ------------------------------------------------------------------------------


def test_a_personal_preset_is_its_owners_alone(owner, teammate):
    preset = _preset(owner)
    assert preset.status == Preset.Status.APPROVED and preset.current.number == 1
    assert list(selectors.presets_visible_to(user=owner)) == [preset]
    assert list(selectors.presets_visible_to(user=teammate)) == []
    with pytest.raises(selectors.PresetNotFound):
        selectors.preset_usable(user=teammate, ref=str(preset.public_id))


def test_a_members_team_preset_waits_for_an_admin_and_then_the_team_uses_it(
    owner, teammate, team, outsider
):
    preset = _preset(teammate, team=team)
    assert preset.status == Preset.Status.PENDING
    with pytest.raises(selectors.PresetNotFound, match="approval"):
        selectors.preset_usable(user=owner, ref="Studio photo")
    with pytest.raises(services.PresetRuleError):
        services.preset_approve(user=teammate, preset=preset)  # not an admin
    services.preset_approve(user=owner, preset=preset)
    assert selectors.preset_usable(user=teammate, ref="Studio photo") == preset.current
    assert selectors.preset_usable(user=owner, ref=str(preset.public_id)) == preset.current
    assert list(selectors.presets_visible_to(user=outsider)) == []


def test_an_owners_team_preset_is_approved_at_once(owner, team):
    assert _preset(owner, team=team).status == Preset.Status.APPROVED


def test_a_change_is_a_new_version_and_old_jobs_keep_theirs(owner, client):
    preset = _preset(owner)
    job = _api_job(client, owner, {"prompt": "a cup", "preset": "Studio photo"})
    services.preset_update(user=owner, preset=preset, values={**STUDIO, "num_inference_steps": 20})
    preset.refresh_from_db()
    assert preset.current.number == 2
    assert job.preset.number == 1 and job.num_inference_steps == 12
    later = _api_job(client, owner, {"prompt": "a cup", "preset": str(preset.public_id)})
    assert later.preset.number == 2 and later.num_inference_steps == 20
    preset.refresh_from_db()
    assert preset.use_count == 2 and preset.last_used_at is not None


def test_an_authors_change_of_an_approved_team_preset_waits_again(owner, teammate, team):
    preset = _preset(teammate, team=team)
    services.preset_approve(user=owner, preset=preset)
    services.preset_update(user=teammate, preset=preset, values=STUDIO, name="Studio 2")
    preset.refresh_from_db()
    assert preset.status == Preset.Status.PENDING and preset.name == "Studio 2"


def test_a_member_who_left_loses_the_teams_presets(owner, teammate, team):
    preset = _preset(teammate, team=team)
    services.preset_approve(user=owner, preset=preset)
    Membership.objects.filter(user=teammate, team=team).delete()
    assert list(selectors.presets_visible_to(user=teammate)) == []
    assert not selectors.preset_can_manage(user=teammate, preset=preset)
    with pytest.raises(selectors.PresetNotFound):
        selectors.preset_usable(user=teammate, ref=str(preset.public_id))


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"prompt_template": "no placeholder"}, "prompt_template"),
        ({"prompt_template": "{prompt}\x00"}, "prompt_template"),
        ({"size": "huge"}, "size"),
        ({"size": "100x100"}, "size"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"guidance_scale": 99}, "guidance_scale"),
        ({"acceleration": "warp"}, "acceleration"),
    ],
)
def test_bad_values_are_refused_naming_the_field(owner, values, field):
    with pytest.raises(services.PresetRuleError) as raised:
        _preset(owner, **values)
    assert raised.value.field == field


def test_save_as_preset_from_an_image_keeps_its_settings_not_its_prompt(owner, owner_client):
    image = make_image(owner, size="square", num_inference_steps=9, guidance_scale=3.0)
    response = owner_client.post(f"/images/{image.public_id}/save-preset/", {"name": "Like it"})
    preset = Preset.objects.get(name="Like it")
    assert response.status_code == 302 and response["Location"].endswith(
        f"/presets/{preset.public_id}/"
    )
    values = preset.current.values()
    assert values["size"] == "square" and values["num_inference_steps"] == 9
    assert values["guidance_scale"] == 3.0 and values["prompt_template"] == "{prompt}"


# --- Applied in the API, the form and the CLI ------------------------------------------------


def _api_job(client, user, body) -> Job:
    response = post_json(client, "/v1/jobs", body, headers=bearer(user))
    assert response.status_code == 202, response.content
    return Job.objects.get(public_id=response.json()["id"])


def test_the_api_applies_a_preset_where_the_request_sets_nothing(owner, client):
    _preset(owner)
    job = _api_job(
        client, owner, {"prompt": "a cup", "preset": "Studio photo", "guidance_scale": 2}
    )
    assert job.prompt == "studio photo of a cup, softbox light"
    assert (job.width, job.height) == (768, 1024)
    assert (job.num_inference_steps, job.guidance_scale) == (12, 2.0)  # the request wins
    assert (job.negative_prompt, job.acceleration) == ("blurry, text", "regular")
    payload = client.get(f"/v1/jobs/{job.public_id}", **bearer(owner)).json()
    assert payload["preset"] == {
        "id": str(job.preset.preset.public_id),
        "name": "Studio photo",
        "version": 1,
    }


def test_size_auto_with_a_preset_takes_the_native_size_closest_to_its_aspect(owner, client):
    _preset(owner)
    job = _api_job(client, owner, {"prompt": "a cup", "preset": "Studio photo", "size": "auto"})
    assert (job.width, job.height, job.size_preset) == (1104, 1472, "native_3_4")


def test_an_unknown_or_unapproved_preset_is_a_400_naming_preset(owner, teammate, team, client):
    _preset(teammate, team=team)  # pending
    for ref in ("Nope", str(uuid.uuid4()), "Studio photo"):
        response = post_json(
            client, "/v1/jobs", {"prompt": "x", "preset": ref}, headers=bearer(owner)
        )
        assert_envelope(response, 404, code="preset_not_found", param="preset")
    assert not Job.objects.exists()


def test_the_form_applies_a_chosen_preset(owner, owner_client):
    preset = _preset(owner)
    form = {
        "prompt": "a cup",
        "size": "landscape_4_3",
        "num_inference_steps": 30,
        "guidance_scale": 2.5,
        "acceleration": "none",
        "n": 1,
        "enable_safety_checker": "on",
        "visibility": "private",
        "preset": str(preset.public_id),
    }
    response = owner_client.post("/", form)
    assert response.status_code == 302, response.content
    job = Job.objects.get()
    # No script copied the preset in: fields left at their defaults take the preset's values.
    assert job.prompt == "studio photo of a cup, softbox light"
    assert (job.width, job.height, job.num_inference_steps) == (768, 1024, 12)
    assert job.preset == preset.current


def test_the_form_takes_its_fields_as_they_are_when_the_script_applied_the_preset(
    owner, owner_client
):
    preset = _preset(owner)
    form = {
        "prompt": "a cup",
        "size": "square",
        "num_inference_steps": 30,
        "guidance_scale": 2.5,
        "acceleration": "none",
        "n": 1,
        "visibility": "private",
        "preset": str(preset.public_id),
        "preset_applied": "True",
    }
    assert owner_client.post("/", form).status_code == 302
    job = Job.objects.get()
    assert (job.width, job.num_inference_steps) == (512, 30)
    assert job.prompt == "studio photo of a cup, softbox light"  # the template still wraps it


@pytest.mark.django_db(transaction=True)  # jobs run when their job commits
def test_the_cli_applies_a_preset(owner):
    _preset(owner)
    out = io.StringIO()
    call_command(
        "generate",
        "a cup",
        user="owner",
        preset="Studio photo",
        stdout=out,
        stderr=io.StringIO(),
    )
    job = Job.objects.get()
    assert job.source == Job.Source.CLI and job.preset.preset.name == "Studio photo"
    assert job.prompt == "studio photo of a cup, softbox light" and job.num_inference_steps == 12
    with pytest.raises(CommandError, match="No preset"):
        call_command("generate", "x", user="owner", preset="nope", stdout=out)


@pytest.mark.django_db(transaction=True)
def test_the_cli_takes_quality_and_enhance(owner):
    call_command(
        "generate",
        "a cup",
        user="owner",
        quality="low",
        enhance=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    job = Job.objects.get()
    assert (job.num_inference_steps, job.acceleration, job.enhance) == (20, "high", True)
    assert job.enhancement == Job.Enhancement.FALLBACK  # off in tests: said on the job


# --- The API: every endpoint, every role ----------------------------------------------------


@pytest.fixture
def cast(owner, teammate, outsider, staff, team):
    personal = _preset(owner, name="Mine")
    shared = _preset(owner, name="Ours", team=team)
    pending = _preset(teammate, name="Theirs", team=team)
    return {
        "users": {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff},
        "personal": personal,
        "shared": shared,
        "pending": pending,
    }


def _call(client, method, path, user=None, body=None):
    headers = bearer(user) if user else {}
    if method == "GET":
        return client.get(path, **headers)
    if method == "DELETE":
        return client.delete(path, **headers)
    call = client.put if method == "PUT" else client.post
    import json

    return call(path, data=json.dumps(body or {}), content_type="application/json", **headers)


ROLES = ("anonymous", "outsider", "staff", "teammate", "owner")


@pytest.mark.parametrize(
    ("method", "which", "suffix", "body", "expected"),
    [
        # a personal preset: its owner's alone (staff manage presets in the admin)
        ("GET", "personal", "", None, (401, 404, 404, 404, 200)),
        ("PUT", "personal", "", STUDIO, (401, 404, 404, 404, 200)),
        ("POST", "personal", "/approve", None, (401, 404, 404, 404, 403)),
        ("DELETE", "personal", "", None, (401, 404, 404, 404, 204)),
        # an approved team preset: the team sees it, its admins and author change it
        ("GET", "shared", "", None, (401, 404, 404, 200, 200)),
        ("PUT", "shared", "", STUDIO, (401, 404, 404, 403, 200)),
        ("DELETE", "shared", "", None, (401, 404, 404, 403, 204)),
        # a member's waiting team preset: the owner (a team admin) approves it
        ("POST", "pending", "/approve", None, (401, 404, 404, 403, 200)),
    ],
)
def test_preset_endpoints_by_role(client, cast, method, which, suffix, body, expected):
    preset = cast[which]
    path = f"/v1/presets/{preset.public_id}{suffix}"
    for role, status in zip(ROLES, expected, strict=True):
        before = list(Preset.objects.values_list("public_id", "status", "name", "current"))
        response = _call(client, method, path, cast["users"].get(role), body)
        assert response.status_code == status, (role, response.content)
        if status >= 400:
            after = list(Preset.objects.values_list("public_id", "status", "name", "current"))
            assert after == before, role
        if status == 204:
            break  # gone: nothing left to try


def test_preset_list_and_create_by_role(client, cast):
    names = {}
    for role, user in cast["users"].items():
        response = _call(client, "GET", "/v1/presets", user)
        assert response.status_code == 200
        names[role] = sorted(item["name"] for item in response.json()["data"])
    assert names == {
        "owner": ["Mine", "Ours", "Theirs"],
        "teammate": ["Ours", "Theirs"],
        "outsider": [],
        "staff": [],
    }
    assert _call(client, "GET", "/v1/presets").status_code == 401
    assert _call(client, "POST", "/v1/presets", None, {"name": "x"}).status_code == 401
    created = _call(
        client,
        "POST",
        "/v1/presets",
        cast["users"]["teammate"],
        {**STUDIO, "name": "New", "team": True},
    )
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending" and created.json()["scope"] == "team"
    bad = _call(
        client,
        "POST",
        "/v1/presets",
        cast["users"]["owner"],
        {"name": "x", "prompt_template": "no"},
    )
    assert_envelope(bad, 400, code="invalid_preset", param="prompt_template")


# --- The pages: every page, every role -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", "/presets/", ("login", 200, 200, 200, 200)),
        ("GET", "/presets/{personal}/", ("login", 404, 404, 404, 200)),
        ("GET", "/presets/{shared}/", ("login", 404, 404, 200, 200)),
        ("POST", "/presets/{personal}/delete/", ("login", 404, 404, 404, 302)),
        ("POST", "/presets/{pending}/approve/", ("login", 404, 404, 302, 302)),
    ],
)
def test_preset_pages_by_role(client, cast, method, url, expected):
    from django.test import Client

    for role, status in zip(ROLES, expected, strict=True):
        page = Client()
        if role != "anonymous":
            page.force_login(cast["users"][role])
        path = url.format(**{k: cast[k].public_id for k in ("personal", "shared", "pending")})
        response = page.get(path) if method == "GET" else page.post(path)
        if status == "login":
            assert response.status_code == 302 and "/login/" in response["Location"], role
        else:
            assert response.status_code == status, (role, path)
    cast["pending"].refresh_from_db()
    if "approve" in url:
        assert cast["pending"].status == Preset.Status.APPROVED  # the owner (an admin) did it


def test_a_teammate_cannot_change_an_approved_team_preset_from_its_page(teammate_client, cast):
    response = teammate_client.post(f"/presets/{cast['shared'].public_id}/", {"name": "Mine now"})
    assert response.status_code == 403
    assert Preset.objects.get(pk=cast["shared"].pk).name == "Ours"


def test_save_as_preset_on_someone_elses_image_is_a_404(owner, outsider_client, teammate_client):
    image = make_image(owner)
    for client in (outsider_client, teammate_client):
        assert (
            client.post(f"/images/{image.public_id}/save-preset/", {"name": "x"}).status_code == 404
        )
    assert not Preset.objects.exists()


def test_the_team_prompt_page_by_role(owner_client, teammate_client, outsider_client, team, client):
    url = f"/accounts/teams/{team.public_id}/prompts/"
    assert owner_client.get(url).status_code == 200
    assert teammate_client.get(url).status_code == 200
    assert outsider_client.get(url).status_code == 404
    assert client.get(url).status_code == 302
    assert teammate_client.post(url, {"system_prompt_en": "x"}).status_code == 403
    assert outsider_client.post(url, {"system_prompt_en": "x"}).status_code == 404
    assert (
        owner_client.post(url, {"system_prompt_en": "Ours", "system_prompt_zh": ""}).status_code
        == 302
    )
    assert "Ours" in teammate_client.get(url).content.decode()


def test_the_preset_list_page_makes_a_fixed_number_of_queries(
    owner, owner_client, team, django_assert_max_num_queries
):
    for i in range(3):
        _preset(owner, name=f"P{i}")
        _preset(owner, name=f"T{i}", team=team)
    with django_assert_max_num_queries(16) as few:
        owner_client.get("/presets/")
    for i in range(3, 10):
        _preset(owner, name=f"P{i}")
        _preset(owner, name=f"T{i}", team=team)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get("/presets/")


def test_an_outsider_cannot_name_a_preset_they_do_not_see(owner, outsider, client):
    make_user("spare")
    preset = _preset(owner)
    response = post_json(
        client,
        "/v1/jobs",
        {"prompt": "x", "preset": str(preset.public_id)},
        headers=bearer(outsider),
    )
    assert_envelope(response, 404, code="preset_not_found", param="preset")


def test_a_team_admin_who_is_not_an_owner_approves_and_sets_team_prompts(teammate, team, client):
    from generation.enhancement import team_system_prompts, team_system_prompts_update

    admin = make_user("admin", team=team, role="admin")
    preset = _preset(teammate, team=team)
    services.preset_approve(user=admin, preset=preset)
    assert Preset.objects.get(pk=preset.pk).status == Preset.Status.APPROVED
    team_system_prompts_update(user=admin, team=team, en="Admin rules.", zh="")
    assert team_system_prompts(team)["en"] == "Admin rules."
    again = services.preset_approve(user=admin, preset=preset)  # a repeat changes nothing
    assert again.status == Preset.Status.APPROVED


def test_staff_manage_presets_in_the_admin(owner, staff_client, team):
    preset = _preset(owner, team=team)
    assert staff_client.get("/admin/generation/preset/").status_code == 200
    page = staff_client.get(f"/admin/generation/preset/{preset.pk}/change/")
    assert page.status_code == 200 and "studio photo of {prompt}" in page.content.decode()
    assert staff_client.get("/admin/generation/teampromptsettings/").status_code == 200


def test_a_preset_name_with_a_nul_byte_is_not_found_not_a_server_error(owner, client):
    # PostgreSQL cannot compare text holding NUL: the lookup must not reach it (st run found it).
    response = client.post(
        "/v1/prompts/enhance",
        data=json.dumps({"prompt": "a cat", "preset": "bad\x00name"}),
        content_type="application/json",
        **bearer(owner),
    )
    assert_envelope(response, 404, code="preset_not_found", param="preset")
