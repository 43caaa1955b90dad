"""Settings: production is strict about secrets and `check --deploy` clean; every
setting is validated at start-up, a bad value named (strict_env + fala_clip.checks)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import REPO_ROOT

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "fala_clip.settings.production",
    "SECRET_KEY": "x" * 64 + "-Production-Secret-Key-With-Enough-Entropy-123",
    "ALLOWED_HOSTS": "clips.example.com",
    "DATABASE_URL": "postgres://fala@127.0.0.1:5432/fala",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    proc = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    proc = _manage("check", env=env)
    assert proc.returncode != 0
    assert "SECRET_KEY" in proc.stderr


# --- strict settings: bad values stop start-up, naming the variable ------------

CHECK_ENV = {"DJANGO_SETTINGS_MODULE": "fala_clip.settings.test"}


def _check(**overrides: str) -> subprocess.CompletedProcess:
    return _manage("check", env={**CHECK_ENV, **overrides})


def test_a_good_configuration_passes_check():
    # Given valid values (and a PROFILE_LAYER_PROVIDERS variable naming nothing
    # importable: providers are registered in settings code, the variable is ignored)
    proc = _check(
        DEBUG="off",
        SHOT_DETECTOR="transnetv2",
        UPLOAD_RATE_LIMIT="5/10m",
        RENDER_PRESET="medium",
        RENDER_CRF="0",
        JOB_HEARTBEAT_INTERVAL_S="15",
        JOB_STALE_AFTER_S="16",
        VIDEO_MAX_FPS="59.94",
        LOG_LEVEL="warning",
        PROFILE_LAYER_PROVIDERS="no.such.provider",
    )
    # Then check passes
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SHOT_DETECTOR": "fats"}, "SHOT_DETECTOR='fats'"),
        ({"UPLOAD_RATE_LIMIT": "3/x"}, "UPLOAD_RATE_LIMIT='3/x'"),
        ({"RENDER_PRESET": "quick"}, "RENDER_PRESET='quick'"),
        ({"JOB_HEARTBEAT_INTERVAL_S": "15", "JOB_STALE_AFTER_S": "15"}, "JOB_STALE_AFTER_S=15"),
    ],
)
def test_check_fails_on_a_bad_value_naming_the_variable(variables, named):
    # When manage.py check starts with one bad value
    proc = _check(**variables)
    # Then it fails with exactly one error, which names the variable and the value
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert out.count("(fala_clip.E") == 1, out
    assert named in out


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "Ture", "DEBUG='Ture' is not a boolean"),
        ("RENDER_CRF", "2O", "RENDER_CRF='2O' is not an integer"),
        ("VIDEO_MAX_FPS", "nan", "VIDEO_MAX_FPS='nan' is not a finite number"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='LOUD' is not a logging level"),
        ("RENDER_GOP_SECONDS", "inf", "RENDER_GOP_SECONDS='inf' is not a finite number"),
        ("MUSIC_ANALYSIS_START", "later", "MUSIC_ANALYSIS_START must be after_decode or with_decode"),
        ("VIDEO_EARLY_ANALYSIS", "yes", "VIDEO_EARLY_ANALYSIS must be auto, on or off"),
    ],
)
def test_a_value_of_the_wrong_type_stops_start_up_naming_the_variable(variable, value, message):
    proc = _check(**{variable: value})
    assert proc.returncode != 0
    assert f"ImproperlyConfigured: {message}" in proc.stderr, proc.stderr


class TestStrictEnv:
    """The typed reads of fala_clip.settings.strict_env, without a subprocess."""

    @staticmethod
    def env(**values: str):
        from fala_clip.settings.strict_env import StrictEnv

        env = StrictEnv()
        env.ENVIRON = values  # instance attribute: the process environment is untouched
        return env

    @pytest.mark.parametrize("word", ["true", "True", " YES ", "on", "y", "1"])
    def test_true_words(self, word):
        assert self.env(FLAG=word).bool("FLAG", default=False) is True

    @pytest.mark.parametrize("word", ["false", "FALSE", "no", "off", "n", "0"])
    def test_false_words(self, word):
        assert self.env(FLAG=word).bool("FLAG", default=True) is False

    @pytest.mark.parametrize("word", ["Ture", "2", "yess", "enabled"])
    def test_other_words_are_refused(self, word):
        with pytest.raises(ImproperlyConfigured, match=f"^FLAG='{word}' is not a boolean"):
            self.env(FLAG=word).bool("FLAG", default=False)

    def test_empty_or_unset_takes_the_default_and_no_default_is_an_error(self):
        assert self.env(FLAG="").bool("FLAG", default=True) is True
        assert self.env().int("N", default=7) == 7
        with pytest.raises(ImproperlyConfigured, match="^Set the N environment variable$"):
            self.env(N=" ").int("N")

    def test_numbers_are_read_whole(self):
        # django-environ read "1e3" as 13 (it strips the letters); we read the number
        assert self.env(X="1e3").float("X", default=0.0) == 1000.0
        assert self.env(X=" -14.5 ").float("X", default=0.0) == -14.5
        assert self.env(N="42").int("N", default=0) == 42

    @pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1,5", "12s"])
    def test_non_finite_or_malformed_floats_are_refused(self, value):
        with pytest.raises(ImproperlyConfigured, match=f"^X='{value}' is not a"):
            self.env(X=value).float("X", default=0.0)

    @pytest.mark.parametrize("value", ["2.5", "20s", "0x10", "1e3"])
    def test_malformed_ints_are_refused(self, value):
        with pytest.raises(ImproperlyConfigured, match=f"^N='{value}' is not an integer$"):
            self.env(N=value).int("N", default=0)


def not_a_callable_provider() -> None:  # referenced by its dotted path below
    return None


NOT_CALLABLE = 3


@pytest.mark.parametrize(
    ("setting", "value", "error_id", "named"),
    [
        ("SHOT_DETECTOR", "FAST", "fala_clip.E001", "SHOT_DETECTOR='FAST'"),
        ("UPLOAD_RATE_LIMIT", "0/h", "fala_clip.E002", "UPLOAD_RATE_LIMIT='0/h'"),
        ("UPLOAD_RATE_LIMIT", "5/0m", "fala_clip.E002", "UPLOAD_RATE_LIMIT='5/0m'"),
        ("UPLOAD_RATE_LIMIT", "30/H", "fala_clip.E002", "UPLOAD_RATE_LIMIT='30/H'"),
        ("RENDER_CRF", 52, "fala_clip.E004", "RENDER_CRF=52"),
        ("RENDER_CRF", -1, "fala_clip.E004", "RENDER_CRF=-1"),
        ("RENDER_LOUDNESS_LUFS", 3.0, "fala_clip.E005", "RENDER_LOUDNESS_LUFS=3.0"),
        ("RENDER_THREADS", 65, "fala_clip.E013", "RENDER_THREADS=65"),
        ("RENDER_THREADS", -1, "fala_clip.E013", "RENDER_THREADS=-1"),
        ("VIDEO_MAX_DURATION_S", 0.0, "fala_clip.E006", "VIDEO_MAX_DURATION_S=0.0"),
        ("MAX_UPLOAD_BYTES", -5, "fala_clip.E006", "MAX_UPLOAD_BYTES=-5"),
        ("VIDEO_MAX_FPS", float("inf"), "fala_clip.E006", "VIDEO_MAX_FPS=inf"),
        ("WORKER_MAINTENANCE_INTERVAL_S", 0, "fala_clip.E006", "WORKER_MAINTENANCE_INTERVAL_S=0"),
        ("JOB_MAX_ATTEMPTS", 0, "fala_clip.E006", "JOB_MAX_ATTEMPTS=0"),
        ("WORKSPACE_RETENTION_S", -1, "fala_clip.E007", "WORKSPACE_RETENTION_S=-1"),
        ("MIN_START_GAP_S", 3.0, "fala_clip.E012", "MIN_START_GAP_S=3.0"),
        ("LOG_LEVEL", "LOUD", "fala_clip.E009", "LOG_LEVEL='LOUD'"),
    ],
)
def test_each_validated_setting_names_itself(settings, setting, value, error_id, named):
    from fala_clip.checks import check_settings

    # Given a valid configuration (the test settings) with one bad value
    assert check_settings() == []
    setattr(settings, setting, value)
    # Then the check reports exactly that setting
    errors = check_settings()
    assert [(e.id, e.msg.split(":")[0]) for e in errors] == [(error_id, named)]


def test_heavy_job_timeout_is_checked_under_its_variable_name(settings):
    from fala_clip.checks import check_settings

    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "heavy": {**settings.RQ_QUEUES["heavy"], "DEFAULT_TIMEOUT": 0}}
    assert [(e.id, e.msg) for e in check_settings()] == [
        ("fala_clip.E006", "HEAVY_JOB_TIMEOUT_S=0: must be a number greater than 0")
    ]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.test_settings.no_such_provider", "cannot be imported"),
        ("no_such_module.provider", "cannot be imported"),
        ("tests.test_settings.NOT_CALLABLE", "is not callable"),
    ],
)
def test_profile_layer_providers_must_import_as_callables(settings, path, problem):
    from fala_clip.checks import check_settings

    settings.PROFILE_LAYER_PROVIDERS = ["tests.test_settings.not_a_callable_provider", path]
    errors = check_settings()
    assert [e.id for e in errors] == ["fala_clip.E010"]
    assert errors[0].msg.startswith(f"PROFILE_LAYER_PROVIDERS entry {path!r} {problem}")


def test_the_clip_command_checks_everything_but_the_urlconf(settings, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from fala_clip.management.commands.clip import clip_check_tags

    tags = clip_check_tags()
    # it serves no URL: the URLconf's checks (importing every view) are left to `manage.py check`
    assert "urls" not in tags
    assert {"fala_clip", "models", "database", "caches", "templates"} <= set(tags)
    # and our own settings check still stops it before anything is stored
    settings.LOG_LEVEL = "LOUD"
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    with pytest.raises(SystemCheckError, match="LOG_LEVEL='LOUD'"):
        call_command("clip", str(video), "--out", str(tmp_path / "out"), skip_checks=False)
    assert not (tmp_path / "out" / "summary.json").exists()
