from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_session_conversation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupSetting',
            fields=[
                ('group_key', fields.CharField(primary_key=True, unique=True, db_index=True, description='``platform:group_id`` (``qq:123456``)', max_length=191)),
                ('name', fields.CharField(default='', max_length=200)),
                ('settings', fields.TextField(default='', description='``bot.groups.GroupSettings`` as JSON (empty: the defaults)', unique=False)),
                ('last_seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'group_settings', 'app': 'models', 'pk_attr': 'group_key', 'table_description': 'One group chat the bot has seen, with its settings (``bot.groups``).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Persona',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('prompt', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'personas', 'app': 'models', 'pk_attr': 'name', 'table_description': 'A named, reusable system prompt that groups refer to.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditLog',
            name='after',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='AuditLog',
            name='before',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='AuditLog',
            name='target',
            field=fields.CharField(default='', db_default='', db_index=True, description='what was changed (``group:qq:123``, ``user:alice``), and its state as JSON', max_length=191),
        ),
        ops.AddField(
            model_name='KeywordRule',
            name='hit_count',
            field=fields.BigIntField(default=0, db_default=0, description='times the rule answered (flushed from the shared counters) and the last time'),
        ),
        ops.AddField(
            model_name='KeywordRule',
            name='last_hit_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='User',
            name='is_admin',
            field=fields.BooleanField(default=False, description='kept equal to ``role == "admin"`` (the setup check reads it)'),
        ),
        ops.AddField(
            model_name='User',
            name='role',
            field=fields.CharField(default='user', db_default='user', description='``admin``, ``operator`` or ``user`` (see ``bot.auth.roles``)', max_length=16),
        ),
        # existing admins keep their rights under the role model
        ops.RunSQL("UPDATE users SET role = 'admin' WHERE is_admin", reverse_sql=""),
    ]
