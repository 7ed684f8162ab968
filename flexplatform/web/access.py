"""Who may open which page: the dashboard's counterpart of ``flexplatform.auth.require``.

Every page route takes one of the aliases below. The dependency finds the signed-in
participant from the session cookie, applies the same role, status and terms checks as the
API, and on every POST checks the form's CSRF token against the session's (synchroniser
token), so no form can be posted from another site and no page can forget the check. It
records its roles on itself exactly as ``auth.require`` does, so ``tests.authz`` lists the
roles of every page and tests/web/test_pages_matrix.py proves them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from flexplatform.auth import ALL_ROLES, Principal, SessionDep, current_terms
from flexplatform.errors import DomainError, Forbidden, TermsNotAccepted
from flexplatform.registration.models import ParticipantStatus, Role
from flexplatform.web import sessions
from flexplatform.web.sessions import WebUser

CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


class CsrfRefused(DomainError):
    status = 403
    type_slug = "csrf-refused"
    title = "Form refused"


async def form_data(request: Request) -> FormData:
    """The posted form (urlencoded or multipart), parsed once per request; empty on GET."""
    if request.method != "POST":
        return FormData()
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def current_user(request: Request) -> WebUser | None:
    return getattr(request.state, "web_user", None)


def _load(request: Request, session: Any) -> WebUser | None:
    user = sessions.lookup(session, request.cookies.get(sessions.COOKIE))
    request.state.web_user = user
    return user


def page(*roles: Role | str, terms: bool = False) -> Any:
    """Dependency factory: the signed-in participant must hold one of ``roles``.

    ``terms=True`` marks trading actions, as in the API: the terms in force must have been
    accepted. Returns the ``Principal`` the page passes to the services.
    """
    allowed = frozenset(r.value if isinstance(r, Role) else r for r in roles)

    def dependency(request: Request, session: SessionDep, form: FormDep) -> Principal:
        user = _load(request, session)
        if user is None:
            raise SignInRequired()
        p = user.principal.participant
        if p.role.value not in allowed:
            raise Forbidden(f"this page is for {', '.join(sorted(allowed))}; you are signed "
                            f"in as {p.role.value}", allowed_roles=sorted(allowed))
        if p.status != ParticipantStatus.active:
            raise Forbidden(f"participant is {p.status.value}")
        if request.method == "POST" and not sessions.tokens_match(form.get(CSRF_FIELD),
                                                                  user.csrf_token):
            raise CsrfRefused("this form has expired or did not come from this site; "
                              "nothing was changed")
        if terms:
            cur = current_terms(session)
            if cur is not None and p.terms_version_id != cur.id:
                raise TermsNotAccepted(f"accept terms version {cur.version} before trading",
                                       terms_version=cur.version)
        return user.principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    dependency.requires_terms = terms  # type: ignore[attr-defined]
    return Depends(dependency)


def public_page() -> Any:
    """Anyone may open the page; a signed-in participant still sees its own header."""

    def dependency(request: Request, session: SessionDep) -> Principal | None:
        user = _load(request, session)
        return user.principal if user else None

    dependency.allowed_roles = frozenset({"public"})  # type: ignore[attr-defined]
    dependency.requires_terms = False  # type: ignore[attr-defined]
    return Depends(dependency)


AnyPage = Annotated[Principal, page(*ALL_ROLES)]
PublicPage = Annotated[Principal | None, public_page()]
MoPage = Annotated[Principal, page(Role.mo)]
MoTradingPage = Annotated[Principal, page(Role.mo, terms=True)]
FspPage = Annotated[Principal, page(Role.fsp)]
FspTradingPage = Annotated[Principal, page(Role.fsp, terms=True)]
MoFspPage = Annotated[Principal, page(Role.mo, Role.fsp)]
MoOrOversightPage = Annotated[Principal, page(Role.mo, Role.regulator, Role.admin)]
OversightPage = Annotated[Principal, page(Role.regulator, Role.admin)]
RegulatorPage = Annotated[Principal, page(Role.regulator)]
AdminPage = Annotated[Principal, page(Role.admin)]

HOME = {"mo": "/mo", "fsp": "/fsp", "regulator": "/regulator", "admin": "/admin"}


def home_of(principal: Principal) -> str:
    return HOME[principal.role.value]


def terms_pending(session: Any, who: Principal) -> str | None:
    """The terms version in force if ``who`` has not accepted it yet (home page banners)."""
    cur = current_terms(session)
    return cur.version if cur is not None and who.participant.terms_version_id != cur.id \
        else None
