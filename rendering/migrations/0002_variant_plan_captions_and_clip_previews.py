# Issue 13: render plans, captions, previews, titles.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rendering', '0001_rendered_variants'),
        ('suggestions', '0004_clip_model_title_post_text'),
    ]

    operations = [
        migrations.AddField(
            model_name='renderedvariant',
            name='captions',
            field=models.JSONField(blank=True, default=dict, help_text='burned-in captions: language, word count, sidecar files (srt, vtt)'),
        ),
        migrations.AddField(
            model_name='renderedvariant',
            name='plan',
            field=models.JSONField(blank=True, default=dict, help_text='what the file is made of: per segment the source span, output position, layout (crop window / path or fit) and the music offset'),
        ),
        migrations.CreateModel(
            name='ClipPreview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('contact_sheet', models.CharField(blank=True, default='', help_text='storage name (JPEG)', max_length=500)),
                ('video', models.CharField(blank=True, default='', help_text='storage name (MP4)', max_length=500)),
                ('frames', models.JSONField(blank=True, default=list, help_text="source times of the contact sheet's frames")),
                ('timings', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('clip_model', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='preview', to='suggestions.clipmodel')),
            ],
            options={
                'db_table': 'clip_previews',
            },
        ),
    ]
