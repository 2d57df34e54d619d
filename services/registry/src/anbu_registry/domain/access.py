"""Who may see and change what (domain brief §9): the minimum, by role and by area.

- Admins and services see everything.
- Operators see the districts they serve; dong officials their dongs.
- Field workers and volunteers see a household's non-personal record in their dongs, and
  its personal data (names, phone numbers, address) only through a task they accepted.
Every read of personal data is audited by the caller of these functions.
"""

from __future__ import annotations

from anbu_runtime.auth import Principal, UserRole

OFFICE_ROLES = (UserRole.OPERATOR, UserRole.DONG_OFFICIAL)


def can_read_household(principal: Principal, dong_code: str) -> bool:
    return principal.sees_dong(dong_code)


def can_change_household(principal: Principal, dong_code: str) -> bool:
    return principal.has_role(*OFFICE_ROLES) and principal.sees_dong(dong_code)


def can_read_personal_data(principal: Principal, dong_code: str, has_task_grant: bool) -> bool:
    """Office staff of the area, or a field worker holding an accepted task for it."""
    if principal.has_role(*OFFICE_ROLES):
        return principal.sees_dong(dong_code)
    return has_task_grant


def can_manage_cases(principal: Principal, dong_code: str) -> bool:
    return principal.has_role(*OFFICE_ROLES, UserRole.FIELD_WORKER) and principal.sees_dong(
        dong_code
    )
