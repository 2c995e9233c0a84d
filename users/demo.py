"""Demo cast of `make run`: who logs in with what, and one OAuth application per grant type."""

from datetime import UTC, datetime

from django.contrib.auth.models import Permission
from django.utils import timezone
from oauth2_provider.models import get_application_model

from users.models import (
    AthletePermission,
    AthleteProfile,
    ManagerProfile,
    PermissionKind,
    Role,
    User,
)
from users.services import athlete_create_managed, permission_create

DEMO_PASSWORD = "demo-pass-2026"
ADMIN = ("admin", "admin-pass-2026")
MANAGERS = [("alice", "Alice", "Martin"), ("bob", "Bob", "Dubois"), ("mallory", "Mallory", "Roux")]
ATHLETES = [
    ("carol", "Carol", "Bernard", "F", "1998-04-12"),
    ("dave", "Dave", "Petit", "M", "1996-09-03"),
    ("erin", "Erin", "Moreau", "F", "2001-01-27"),
]
MANAGED_ATHLETE = ("frank", "Frank", "Girard", "M", "2009-06-18")  # managed by alice
REDIRECT_URI = "http://127.0.0.1:8001/callback"

APPLICATIONS = [
    # (name, client_id, client_secret, grant type, client type)
    (
        "Demo AMS (authorization code)",
        "demo-ams-code",
        "demo-code-secret",
        "authorization-code",
        "confidential",
    ),
    ("Demo SPA (authorization code + PKCE)", "demo-ams-spa", "", "authorization-code", "public"),
    (
        "Demo AMS (password)",
        "demo-ams-password",
        "demo-password-secret",
        "password",
        "confidential",
    ),
    (
        "Demo gateway (client credentials)",
        "demo-gateway",
        "demo-gateway-secret",
        "client-credentials",
        "confidential",
    ),
]


def _user(username: str, role: str, password: str, email: str) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"role": role, "email": email})
    user.role = role
    user.email = email
    user.set_password(password)
    user.save()
    return user


def load() -> list[str]:
    admin = _user(ADMIN[0], Role.ADMIN, ADMIN[1], "admin@example.org")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    for username, first, last in MANAGERS:
        user = _user(username, Role.MANAGER, DEMO_PASSWORD, f"{username}@example.org")
        ManagerProfile.objects.update_or_create(
            user=user, defaults={"first_name": first, "last_name": last}
        )
    for username, first, last, gender, birth in ATHLETES:
        user = _user(username, Role.ATHLETE, DEMO_PASSWORD, f"{username}@example.org")
        AthleteProfile.objects.update_or_create(
            user=user,
            defaults={
                "first_name": first,
                "last_name": last,
                "gender": gender,
                "birth_date": birth,
            },
        )

    grant_lines = _grants_load()

    Application = get_application_model()
    for name, client_id, secret, grant, client_type in APPLICATIONS:
        app = Application.objects.filter(client_id=client_id).first() or Application(
            client_id=client_id
        )
        app.name = name
        app.user = admin
        app.authorization_grant_type = grant
        app.client_type = client_type
        app.client_secret = secret  # hashed on save
        app.redirect_uris = REDIRECT_URI if grant == "authorization-code" else ""
        app.allowed_origins = "http://127.0.0.1:8001" if client_type == "public" else ""
        app.algorithm = ""
        app.save()

    lines = [
        "",
        "  Server:     http://127.0.0.1:8000/",
        "  API:        http://127.0.0.1:8000/api/v1/   (docs: /api/docs/, schema: /api/schema/)",
        "  Admin:      http://127.0.0.1:8000/admin/",
        "  Health:     http://127.0.0.1:8000/healthz/",
        "",
        f"  Admin login:     {ADMIN[0]} / {ADMIN[1]}",
        f"  Managers:        {', '.join(m[0] for m in MANAGERS)}  (password {DEMO_PASSWORD})",
        f"  Athletes:        {', '.join(a[0] for a in ATHLETES)}  (password {DEMO_PASSWORD})",
        "",
        "  OAuth applications (client id / secret, grant type):",
    ]
    for _, client_id, secret, grant, client_type in APPLICATIONS:
        lines.append(
            f"    {client_id:18} / {secret or '(public, PKCE)':22} {grant} ({client_type})"
        )
    lines += [
        f"    redirect URI of the authorization-code apps: {REDIRECT_URI}",
        "",
        "  Try: curl -u demo-ams-password:demo-password-secret -d grant_type=password \\",
        f"         -d username=alice -d password={DEMO_PASSWORD} http://127.0.0.1:8000/oauth2/token/",
    ]
    return lines + grant_lines


def _grants_load() -> list[str]:
    """Realistic grants over this calendar year, made through the services (so derived grants
    record their SHARE grant), plus alice's managed athlete. Reset on every load."""
    users = {u.username: u for u in User.objects.filter(role__in=[Role.MANAGER, Role.ATHLETE])}
    alice, bob, mallory = users["alice"], users["bob"], users["mallory"]
    carol, dave, erin = users["carol"], users["dave"], users["erin"]
    AthletePermission.objects.filter(athlete__in=[carol, dave, erin]).delete()

    now = timezone.now()
    year = (datetime(now.year, 1, 1, tzinfo=UTC), datetime(now.year + 1, 1, 1, tzinfo=UTC))
    last_year = (datetime(now.year - 1, 1, 1, tzinfo=UTC), year[0])
    summer = (datetime(now.year, 6, 1, tzinfo=UTC), datetime(now.year, 9, 1, tzinfo=UTC))
    plan = [
        # (actor, athlete, manager, permission, window, story)
        (carol, carol, alice, PermissionKind.READ, year, "carol → alice READ, this year"),
        (carol, carol, alice, PermissionKind.WRITE, year, "carol → alice WRITE, this year"),
        (dave, dave, alice, PermissionKind.READ, year, "dave → alice READ, this year"),
        (dave, dave, alice, PermissionKind.WRITE, year, "dave → alice WRITE, this year"),
        (carol, carol, bob, PermissionKind.SHARE, year, "carol → bob SHARE, this year"),
        (
            bob,
            carol,
            mallory,
            PermissionKind.READ,
            summer,
            "bob shares READ on carol → mallory, summer",
        ),
        (erin, erin, bob, PermissionKind.WRITE, year, "erin → bob WRITE only, this year"),
        (dave, dave, bob, PermissionKind.READ, last_year, "dave → bob READ, last year (expired)"),
    ]
    lines = ["", "  Grants (athlete → manager):"]
    for actor, athlete, manager, permission, (start, end), story in plan:
        permission_create(
            actor=actor,
            athlete=athlete,
            manager=manager,
            permission=permission,
            start_time=start,
            expiration_time=end,
        )
        lines.append(f"    {story}")

    alice.user_permissions.add(Permission.objects.get(codename="can_create_managed_athletes"))
    alice = User.objects.get(pk=alice.pk)  # drop the permission cache
    username, first, last, gender, birth = MANAGED_ATHLETE
    profile = {"first_name": first, "last_name": last, "gender": gender, "birth_date": birth}
    managed = User.objects.filter(username=username).first()
    if managed is None:
        athlete_create_managed(manager=alice, username=username, profile=profile)
    else:
        AthleteProfile.objects.update_or_create(
            user=managed, defaults={**profile, "managed_by": alice}
        )
    lines.append(
        f"    {username} is managed by alice (no login); alice may create managed athletes"
    )
    return lines
