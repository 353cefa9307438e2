"""The login backend: Django's, with the user's unread notices counted in the same query.

Every page shows the bell with the unread count; reading it with the user row (a subquery in the
one SELECT the session middleware makes anyway) costs no query of its own.
"""

from django.contrib.auth.backends import ModelBackend
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from orgs.models import Reminder


def unread_subquery():
    unread = (
        Reminder.objects.filter(user=OuterRef("pk"), read_at=None, done_at=None)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), 0)


class Backend(ModelBackend):
    def get_user(self, user_id):
        UserModel = self._user_model()
        try:
            user = UserModel._default_manager.annotate(unread_notices=unread_subquery()).get(
                pk=user_id
            )
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    @staticmethod
    def _user_model():
        from django.contrib.auth import get_user_model

        return get_user_model()
