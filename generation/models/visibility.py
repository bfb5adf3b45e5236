"""Who sees an image (`Visibility`), and the `in_constants` lookup the team scope's
partial index needs."""

import re

from django.db import models


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    TEAM = "team", "Team"
    PUBLIC = "public", "Public"


# Visibilities a team's members see of each other's images, in the order the partial index
# image_team_shared states them (the gallery's team scope repeats its condition).
SHARED_VISIBILITIES = (Visibility.TEAM, Visibility.PUBLIC)
_CONSTANT = re.compile(r"^[a-z_]+$")


class InConstants(models.Lookup):
    """`field__in_constants=(...)`: IN with the values written into the SQL, not bound.

    SQLite uses a partial index only when the query states the index's condition term for
    term, and it cannot compare a bound parameter with the index's literal: with parameters
    the team scope sorted a whole team (270 ms at a million images) instead of walking
    image_team_shared (0.1 ms). Only for constants of the code (lower-case words).
    """

    lookup_name = "in_constants"

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        values = [str(value) for value in self.rhs]
        if not values or not all(_CONSTANT.match(value) for value in values):
            raise ValueError("in_constants takes lower-case word constants only.")
        return f"{lhs} IN ({', '.join(repr(value) for value in values)})", params

    def get_prep_lookup(self):
        return self.rhs
