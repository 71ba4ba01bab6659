from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.CharField(max_length=191)),
                ('action', fields.CharField(max_length=64)),
                ('detail', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who changed what (admin commands, dashboard actions).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ban',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_key', fields.CharField(unique=True, max_length=191)),
                ('reason', fields.CharField(default='', max_length=500)),
                ('until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'bans', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A user key that may not use the bot.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BudgetOverride',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope_kind', fields.CharField(description='``user`` or ``group``', max_length=8)),
                ('scope_key', fields.CharField(max_length=191)),
                ('daily_limit', fields.BigIntField(null=True)),
                ('monthly_limit', fields.BigIntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_overrides', 'app': 'models', 'unique_together': (('scope_kind', 'scope_key'),), 'pk_attr': 'id', 'table_description': 'A token quota for one user or group that replaces the default.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36)),
                ('owner', fields.CharField(db_index=True, description='owner user key, ``platform:user_id`` (``web:alice``)', max_length=191)),
                ('session_key', fields.CharField(db_index=True, description='the session key history is looked up by', max_length=191)),
                ('platform', fields.CharField(default='', max_length=32)),
                ('title', fields.CharField(default='', max_length=200)),
                ('archived', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'conversations', 'app': 'models', 'pk_attr': 'id', 'table_description': "One conversation: a web chat thread, or a platform session's context."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeyValue',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=191)),
                ('value', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'kv', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Small durable values: adapter cursors, tokens, setup state.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeywordRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(default='global', db_index=True, description='``global`` or a group key (``qq:123456``)', max_length=191)),
                ('match', fields.CharField(default='contains', description='``exact``, ``contains`` or ``regex``', max_length=16)),
                ('pattern', fields.CharField(max_length=500)),
                ('reply', fields.TextField(unique=False)),
                ('priority', fields.IntField(default=0)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'keyword_rules', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An auto-reply rule.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('models.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('content', fields.TextField(unique=False)),
                ('reasoning', fields.TextField(null=True, unique=False)),
                ('tokens', fields.IntField(default=0)),
                ('demo', fields.BooleanField(default=False, description='answered by the demo model (random weights)')),
                ('platform_msg_id', fields.CharField(null=True, description="the platform's message id, when there is one", max_length=128)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'messages', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One message of a conversation.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PluginSwitch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('plugin', fields.CharField(max_length=128)),
                ('scope', fields.CharField(default='global', description='``global`` or a group key', max_length=191)),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'plugin_switches', 'app': 'models', 'unique_together': (('plugin', 'scope'),), 'pk_attr': 'id', 'table_description': 'A plugin turned on or off, globally or for one group.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RevokedSession',
            fields=[
                ('jti', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'revoked_sessions', 'app': 'models', 'pk_attr': 'jti', 'table_description': 'A signed-out session (JWT id) that must not be accepted again.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SensitiveWord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('word', fields.CharField(max_length=191)),
                ('category', fields.CharField(default='custom', max_length=64)),
                ('created_by', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'sensitive_words', 'app': 'models', 'unique_together': (('word', 'category'),), 'pk_attr': 'id', 'table_description': 'A sensitive word added by an admin (file lists live on disk).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SessionSetting',
            fields=[
                ('session_key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=191)),
                ('persona', fields.TextField(null=True, unique=False)),
                ('model', fields.CharField(null=True, max_length=128)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'session_settings', 'app': 'models', 'pk_attr': 'session_key', 'table_description': 'Per-session settings: persona (system prompt) and model.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('is_admin', fields.BooleanField(default=False)),
                ('disabled', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A web/API user (dashboard, web chat, OpenAI front door).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(default='', max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('revoked', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_tokens', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A per-user API key (only its SHA-256 is stored).'},
            bases=['Model'],
        ),
    ]
