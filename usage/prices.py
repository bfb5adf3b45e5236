"""Prices: what one unit of work costs on a backend and model, and the estimate of a request."""

import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from usage.models import Price, amount

# The defaults the first migration writes (editable in the admin afterwards). The hosted
# endpoint takes fal.ai's Qwen-Image request body; fal.ai publishes $0.02 per megapixel for it.
# Local and demo work costs the operator no provider fee.
DEFAULT_PRICES = (
    {
        "backend": "remote",
        "model": "",
        "per_megapixel": Decimal("0.02"),
        "note": "Hosted Qwen-Image: $0.02 per megapixel (fal.ai's published price). "
        "Set your provider's own price here.",
    },
    {"backend": "local", "model": "", "note": "Your own GPU: no provider fee."},
    {"backend": "demo", "model": "", "note": "Demo backend: drawn locally, free."},
)


@dataclass(frozen=True)
class UnitPrice:
    """The price of one unit for a given size and step count."""

    backend: str
    model: str
    width: int
    height: int
    steps: int
    unit_micros: int
    price: Price | None  # None: no price row applies, the unit costs nothing

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


@dataclass(frozen=True)
class Estimate:
    unit: UnitPrice
    images: int

    @property
    def total_micros(self) -> int:
        return self.unit.unit_micros * self.images

    @property
    def total(self) -> Decimal:
        return amount(self.total_micros)

    @property
    def currency(self) -> str:
        return settings.USAGE_CURRENCY

    def as_dict(self) -> dict:
        unit = self.unit
        return {
            "backend": unit.backend,
            "model": unit.model,
            "usage": {
                "images": self.images,
                "width": unit.width,
                "height": unit.height,
                "megapixels_per_image": round(unit.megapixels, 6),
                "megapixels": round(unit.megapixels * self.images, 6),
                "steps": unit.steps,
            },
            "cost": {
                "amount": float(self.total),
                "per_image": float(amount(unit.unit_micros)),
                "currency": self.currency,
                "estimated": True,
            },
        }


# Every submission prices its job: prices are kept per process for USAGE_PRICE_CACHE_SECONDS
# (an edit in the admin reaches other processes within that time; this one at once).
_prices: dict[tuple[str, str], tuple[float, Price | None]] = {}


def price_for(*, backend: str, model: str) -> Price | None:
    """The row for this backend and model, else the backend's catch-all row, else None."""
    key = (backend, model)
    now = time.monotonic()
    cached = _prices.get(key)
    if cached is not None and now - cached[0] < settings.USAGE_PRICE_CACHE_SECONDS:
        return cached[1]
    rows = {p.model: p for p in Price.objects.filter(backend=backend, model__in=[model, ""])}
    price = rows.get(model) or rows.get("")
    _prices[key] = (now, price)
    return price


@receiver([post_save, post_delete], sender=Price, dispatch_uid="usage-forget-prices")
def _forget_prices(**kwargs) -> None:
    _prices.clear()


def unit_cost_micros(price: Price | None, *, width: int, height: int, steps: int) -> int:
    if price is None:
        return 0
    megapixels = Decimal(width * height) / Decimal(1_000_000)
    cost = price.per_image + price.per_megapixel * megapixels + price.per_step * Decimal(steps)
    return int((cost * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def unit_price(*, backend: str, model: str, width: int, height: int, steps: int) -> UnitPrice:
    price = price_for(backend=backend, model=model)
    return UnitPrice(
        backend=backend,
        model=model,
        width=width,
        height=height,
        steps=steps,
        unit_micros=unit_cost_micros(price, width=width, height=height, steps=steps),
        price=price,
    )


def estimate(
    *, backend: str, model: str, width: int, height: int, steps: int, images: int
) -> Estimate:
    """What a request for `images` images of this size would cost."""
    return Estimate(
        unit=unit_price(backend=backend, model=model, width=width, height=height, steps=steps),
        images=images,
    )


def price_summary(price: Price | None) -> str:
    """The price rule in words: "$0.02 per megapixel", "free"."""
    if price is None:
        return "free"
    parts = []
    for value, unit in (
        (price.per_image, "image"),
        (price.per_megapixel, "megapixel"),
        (price.per_step, "step"),
    ):
        if value:
            parts.append(f"{money(value)} per {unit}")
    return " + ".join(parts) or "free"


def money(value: Decimal | float | int, *, currency: str | None = None) -> str:
    """An amount for people: "$0.02", "$12.50", "$0.0042" (small amounts keep their digits)."""
    currency = currency or settings.USAGE_CURRENCY
    value = Decimal(str(value))
    if value == 0:
        text = "0.00"
    elif abs(value) >= Decimal("0.01"):
        text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    else:
        text = f"{value.normalize():f}"
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"
