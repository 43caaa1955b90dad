"""The "operator" group: every permission the operational pages need, nothing else.

Staff status alone opens no operational page (fala_clip/auth.py); a user in this group
(``manage.py create_artist NAME --staff --operator``) sees the django-rq dashboard, the jobs
admin, the Operations page, the LLM usage rows and django-axes' login-attempt logs (and may
delete an attempt row, which lifts a lockout).  Adding a permission later: a new migration
that adds it to the group.
"""

from django.db import migrations

GROUP = "operator"
#: (app label, codename)
PERMISSIONS = [
    ("django_rq", "admin"),  # the dashboard at /django-rq/ (queues, workers, RQ jobs)
    ("metrics", "view_operations"),  # the admin's Operations page
    ("jobs", "view_job"),
    ("jobs", "view_jobevent"),
    ("learning", "view_llmusage"),
    ("learning", "view_llmusagedaily"),
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),  # unlock a locked-out login
    ("axes", "view_accesslog"),
    ("axes", "view_accessfailurelog"),
]


def create_operator_group(apps, schema_editor):
    # Permissions are normally created after the whole migrate run (post_migrate); a fresh
    # database has none yet, so create them now for the apps this group draws on.
    from django.contrib.auth.management import create_permissions

    for label in sorted({label for label, _ in PERMISSIONS}):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    found = []
    for label, codename in PERMISSIONS:
        try:
            found.append(Permission.objects.get(content_type__app_label=label, codename=codename))
        except Permission.DoesNotExist:
            raise RuntimeError(f"permission {label}.{codename} does not exist: the operator group would lack it")
    group.permissions.add(*found)


def remove_operator_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_operations_page"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("jobs", "0003_job_video_ingest_link"),
        ("learning", "0002_llm_usage_daily_rollup"),
        ("django_rq", "0003_alter_dashboard_permission_names"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_operator_group, remove_operator_group)]
