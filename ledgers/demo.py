"""(being written)"""


def seed(**kwargs):
    return {}
