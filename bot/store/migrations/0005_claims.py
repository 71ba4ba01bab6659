from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_console')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Claim',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=191)),
                ('owner', fields.CharField(max_length=64)),
                ('expires', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'claims', 'app': 'models', 'pk_attr': 'key', 'table_description': 'A claim (a message being answered, or answered) taken in the database while\nthe shared state (Redis) is away, so that instances still handle it once.'},
            bases=['Model'],
        ),
    ]
