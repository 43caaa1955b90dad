# Analyser parts added by issue 13 (framing, clean boundaries, captions).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('video', '0001_video_ingests_and_analysis'),
    ]

    operations = [
        migrations.AddField(
            model_name='videoanalysis',
            name='blanks',
            field=models.JSONField(blank=True, default=list, help_text='black/blank frames and fades: [{start, end, kind}]'),
        ),
        migrations.AddField(
            model_name='videoanalysis',
            name='pipeline_version',
            field=models.CharField(default='1', help_text='analyser version; a cached analysis is reused only at the current one', max_length=10),
        ),
        migrations.AddField(
            model_name='videoanalysis',
            name='saliency',
            field=models.JSONField(blank=True, default=dict, help_text='where the important content is, per sample (framing without faces)'),
        ),
        migrations.AddField(
            model_name='videoanalysis',
            name='speech_activity',
            field=models.JSONField(blank=True, default=dict, help_text='fine speech probability {hop_s, values} (cuts in the pauses)'),
        ),
        migrations.AddField(
            model_name='videoanalysis',
            name='transcript',
            field=models.JSONField(blank=True, default=dict, help_text="the source's speech as words with times (captions)"),
        ),
        # Rows that exist were made by analyser version 1 (added above with default "1", so they
        # are recomputed when their file comes back); new rows default to the current version.
        migrations.AlterField(
            model_name='videoanalysis',
            name='pipeline_version',
            field=models.CharField(default='2', help_text='analyser version; a cached analysis is reused only at the current one', max_length=10),
        ),
    ]
