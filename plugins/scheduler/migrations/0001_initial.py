from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job_name', fields.CharField(db_index=True, max_length=64)),
                ('scheduled_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharField(default='running', description='``running``, ``ok``, ``failed``', max_length=16)),
                ('error', fields.TextField(default='', unique=False)),
                ('reached', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('attempts', fields.IntField(default=0)),
                ('instance', fields.CharField(default='', max_length=32)),
            ],
            options={'table': 'scheduled_job_runs', 'app': 'scheduler', 'unique_together': (('job_name', 'scheduled_at'),), 'pk_attr': 'id', 'table_description': 'The run log of scheduled jobs.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ScheduledJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('trigger', fields.CharField(description='``cron``, ``interval`` or ``date``', max_length=8)),
                ('spec', fields.CharField(description='a crontab line, a number of seconds, or an ISO date-time', max_length=128)),
                ('timezone', fields.CharField(default='Asia/Shanghai', max_length=64)),
                ('targets', fields.JSONField(default=list, description='target strings (``bot.send``)', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('action', fields.CharField(description='``text`` or ``prompt``', max_length=8)),
                ('payload', fields.TextField(unique=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('failures', fields.IntField(default=0, description='consecutive failed runs (reset by a success or a resume)')),
                ('anchor', fields.DatetimeField(description='interval jobs run at anchor + k * interval on every instance', auto_now=False, auto_now_add=False)),
                ('run_requested', fields.DatetimeField(null=True, description='a "run now" request (the instance that claims it runs it once)', auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'scheduled_jobs', 'app': 'scheduler', 'pk_attr': 'id', 'table_description': 'A scheduled message: trigger, targets and action.'},
            bases=['Model'],
        ),
    ]
