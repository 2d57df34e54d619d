"""Which part of the map a person may see on the console."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """The dongs (or whole districts) a viewer sees; ``None`` on both means everything."""

    dong_codes: frozenset[str] | None = None
    district_codes: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.dong_codes is None and self.district_codes is None

    def sees(self, dong_code: str | None) -> bool:
        """Whether a household in ``dong_code`` is visible; unknown dongs only to everyone-scope."""
        if self.everything:
            return True
        if dong_code is None:
            return False
        if self.dong_codes is not None and dong_code in self.dong_codes:
            return True
        return self.district_codes is not None and dong_code[:5] in self.district_codes


EVERYTHING = Scope()


def scope_for(
    role: str | None, dong_codes: frozenset[str], district_codes: frozenset[str]
) -> Scope | None:
    """The scope of a logged-in person, or None when the console is not for their role.

    Administrators see everything. Operators (district hubs) see their districts, or
    everything when no district is on their account. Dong officials see their own dongs.
    Field workers and volunteers use the field app, not the console.
    """
    if role == "admin":
        return EVERYTHING
    if role == "operator":
        return Scope(district_codes=district_codes) if district_codes else EVERYTHING
    if role == "dong_official":
        return Scope(dong_codes=dong_codes)
    return None
