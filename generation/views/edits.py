"""Pages of editing: the edit page (an image from the gallery or an upload, references, a mask
painted or uploaded) and the owner's view of an uploaded source. Thin: the rules live in
generation.edits and GenerationParams."""

import pydantic
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from core.http import get_or_404
from generation import lifecycle
from generation.edit_forms import EditForm
from generation.edits import selectors
from generation.edits.sources import EditInputError, edit_prepare, image_for_editing
from generation.files import edit_input_file_response
from generation.moderation import PromptBlocked
from generation.params import GenerationParams
from usage.quotas import QuotaExceeded

# Form names of the sources, in the order the edit takes them.
FIRST, FIRST_FILE = "image", "image_file"
REFERENCES, REFERENCE_FILES = "references", "reference_files"
MASK_FILE, MASK_DATA = "mask_file", "mask_data"


def _first_image(request, value: str):
    """The gallery image the page edits (?image= or the form's), or None."""
    if not value:
        return None
    try:
        return image_for_editing(user=request.user, public_id=value, param=FIRST)
    except EditInputError:
        raise Http404("No such image.") from None


def _sources(request, first) -> tuple[list, object]:
    """(images in order, mask) from the posted form."""
    files, post = request.FILES, request.POST
    images: list = []
    if first is not None:
        images.append(first.public_id)
    elif FIRST_FILE in files:
        images.append(files[FIRST_FILE].read())
    images += [value for value in post.getlist(REFERENCES) if value][: settings.EDIT_MAX_IMAGES]
    for upload in files.getlist(REFERENCE_FILES):
        if upload.size > settings.EDIT_MAX_UPLOAD_BYTES:
            raise EditInputError("A reference file is too large.", param=REFERENCE_FILES)
        images.append(upload.read())
    for upload in [files.get(FIRST_FILE), files.get(MASK_FILE)]:
        if upload is not None and upload.size > settings.EDIT_MAX_UPLOAD_BYTES:
            raise EditInputError("The file is too large.", param=FIRST_FILE)
    mask = files[MASK_FILE].read() if MASK_FILE in files else (post.get(MASK_DATA) or None)
    return images, mask


@login_required
def edit(request):
    """GET: the page (with ?image=<id>, that image is the one edited). POST: the edit job."""
    if request.method == "POST" and _declared_length(request) > settings.EDIT_MAX_REQUEST_BYTES:
        # Refused before the body is read (the API answers the same with its 413 envelope).
        limit = settings.EDIT_MAX_REQUEST_BYTES / 2**20
        message = f"The upload is larger than {limit:.0f} MiB: send fewer or smaller images."
        return _page(request, EditForm(), None, [message], status=413)
    first = _first_image(request, request.POST.get(FIRST) or request.GET.get(FIRST, ""))
    errors: list[str] = []
    if request.method == "POST":
        form = EditForm(request.POST)
        if form.is_valid():
            try:
                images, mask = _sources(request, first)
                prepared = edit_prepare(
                    user=request.user,
                    images=images,
                    mask=mask,
                    strength=form.cleaned_data.get("strength"),
                    param="image",
                )
                params = GenerationParams(**form.generation_fields(), edit=prepared.params())
                job = lifecycle.job_create(
                    user=request.user,
                    params=params,
                    visibility=form.cleaned_data["visibility"],
                    edit_inputs=prepared,
                )
            except EditInputError as exc:
                errors.append(_describe(exc))
            except pydantic.ValidationError as exc:
                for error in exc.errors():
                    name = str(error["loc"][0]) if error["loc"] else ""
                    message = error["msg"].removeprefix("Value error, ")
                    if name in form.fields:
                        form.add_error(name, message)
                    else:
                        errors.append(message)
            except PromptBlocked as exc:
                form.add_error("prompt", exc.message)
            except QuotaExceeded as exc:
                errors.append(exc.message)
            else:
                return redirect("job-detail", public_id=job.public_id)
    else:
        form = EditForm()
    return _page(request, form, first, errors)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _page(request, form, first, errors: list[str], *, status: int = 200):
    return render(
        request,
        "generation/edit.html",
        {
            "form": form,
            "first": first,
            "errors": errors,
            "pickable": list(selectors.edit_pickable_images(user=request.user)),
            "max_images": settings.EDIT_MAX_IMAGES,
            "max_references": settings.EDIT_MAX_IMAGES - 1,
            "max_upload_mib": settings.EDIT_MAX_UPLOAD_BYTES // 2**20,
            "picked": request.POST.getlist(REFERENCES) if status == 200 else [],
        },
        status=status,
    )


def _describe(exc: EditInputError) -> str:
    where = {
        "mask": "Mask",
        "image[0]": "Image to edit",
        REFERENCE_FILES: "References",
        FIRST_FILE: "Image to edit",
    }.get(exc.param)
    if where is None and exc.param.startswith("image["):
        where = f"Reference {exc.param.removeprefix('image[').rstrip(']')}"
    return f"{where or 'Sources'}: {exc.message}"


@login_required
@require_GET
def edit_input_file(request, public_id):
    """An uploaded source (or mask) of an edit, for its owner and staff only."""
    row = get_or_404(
        lambda: selectors.edit_input_for_viewer(user=request.user, public_id=public_id),
        "No such file.",
    )
    return edit_input_file_response(row, viewer=request.user)
