from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_message_conversation_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SessionConversation',
            fields=[
                ('session_key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=191)),
                ('conversation', fields.ForeignKeyField('models.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'session_conversations', 'app': 'models', 'pk_attr': 'session_key', 'table_description': "A platform session's current conversation."},
            bases=['Model'],
        ),
    ]
