# Issue 13: render plans, captions, previews, titles.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('suggestions', '0003_clip_model_feature_values_layer_effects'),
    ]

    operations = [
        migrations.AddField(
            model_name='clipmodel',
            name='copy',
            field=models.JSONField(blank=True, default=dict, help_text='how the title/post text were made: language, source (local/llm), keywords'),
        ),
        migrations.AddField(
            model_name='clipmodel',
            name='post_text',
            field=models.TextField(blank=True, default='', help_text='post description (caption text for the platform)'),
        ),
        migrations.AddField(
            model_name='clipmodel',
            name='title',
            field=models.CharField(blank=True, default='', help_text='short title for the post', max_length=120),
        ),
    ]
