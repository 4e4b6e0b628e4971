"""The example's forms: signing up on the public host, writing a note in a tenant."""

from __future__ import annotations

from customers.models import Tenant
from django import forms
from django.contrib.auth.password_validation import validate_password
from notes.models import Note


class SignupForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=100)
    tenant_id = forms.RegexField(
        label="Workspace address",
        # Letters and digits only: the id is also the host's first label.
        regex=r"^[a-z][a-z0-9]{1,29}$",
        max_length=30,
        help_text="2 to 30 lowercase letters and digits, starting with a letter.",
        error_messages={"invalid": "Use 2 to 30 lowercase letters and digits."},
    )
    username = forms.RegexField(
        label="Your user name",
        regex=r"^[\w.@+-]+$",
        max_length=150,
        error_messages={"invalid": "Letters, digits and @ . + - _ only."},
    )
    email = forms.EmailField(label="Email", required=False)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, min_length=8)

    def clean_tenant_id(self) -> str:
        tenant_id: str = self.cleaned_data["tenant_id"]
        # A friendlier word than the model's unique error; a sign-up that takes the id
        # meanwhile is caught by provisioning (TenantExists).
        if Tenant.objects.filter(tenant_id=tenant_id).exists():
            raise forms.ValidationError("This address is taken; choose another.")
        return tenant_id

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        validate_password(password)
        return password


class NoteForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    text = forms.CharField(
        label="Note",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Write a note…"}),
    )

    class Meta:
        model = Note
        fields = ("text",)
