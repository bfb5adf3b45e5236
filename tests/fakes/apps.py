from django.apps import AppConfig


class FakesConfig(AppConfig):
    name = "tests.fakes"
    label = "fakes"
    verbose_name = "Test fakes"
