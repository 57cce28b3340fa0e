"""The security measures the GDPR record lists: each one tied to the code that implements it.

A measure is declared with `@measure(key, title, "module:attribute", ...)` on a function that
writes its French description from what the code and the configuration actually do (the
playbooks' pass lifetime, the credentials file's mode, …), or returns None when the measure
does not apply to this configuration. The record (`crisiskit rgpd record`) lists a measure only
if every implementing reference resolves (the module imports and the attribute exists) and its
description is not None: remove the code, or the declaration, and the measure disappears from
the record. There is no free-text list of measures.

Later capabilities declare their own here next to the code they add (checksummed exports),
naming that code as `implemented_by`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiskit.documents.typography import duration

if TYPE_CHECKING:
    from crisiskit.inventory.models import Inventory
    from crisiskit.playbooks import Playbook


@dataclass(frozen=True)
class MeasureContext:
    """What a description may read: the inventory and the playbooks in use."""

    inventory: Inventory
    playbooks: Sequence[Playbook]


Describe = Callable[[MeasureContext], "str | None"]


@dataclass(frozen=True)
class Measure:
    """One security measure, the code that implements it, and how to describe it."""

    key: str
    title: str
    implemented_by: tuple[str, ...]
    describe: Describe


REGISTRY: list[Measure] = []


def measure(key: str, title: str, *implemented_by: str) -> Callable[[Describe], Describe]:
    """Declare a measure implemented by the named code ("package.module:Attr.attr")."""
    if not implemented_by:
        raise ValueError(f"measure {key!r} must name the code that implements it")

    def register(describe: Describe) -> Describe:
        if any(m.key == key for m in REGISTRY):
            raise ValueError(f"measure {key!r} is declared twice")
        REGISTRY.append(Measure(key, title, tuple(implemented_by), describe))
        return describe

    return register


def resolve(reference: str) -> Any:
    """Return the object a "module:attr.attr" reference names; LookupError if it does not exist."""
    module_name, _, attributes = reference.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError:
        raise LookupError(f"no module {module_name}") from None
    for name in filter(None, attributes.split(".")):
        if not hasattr(value, name):
            raise LookupError(f"{module_name} has no {attributes}")
        value = getattr(value, name)
    return value


def implemented(m: Measure) -> bool:
    """Tell whether every piece of code implementing `m` exists."""
    try:
        for reference in m.implemented_by:
            resolve(reference)
    except LookupError:
        return False
    return True


def active_measures(
    context: MeasureContext, registry: Sequence[Measure] | None = None
) -> list[tuple[Measure, str]]:
    """Return (measure, description) for each implemented measure that applies."""
    found = []
    for m in REGISTRY if registry is None else registry:
        if not implemented(m):
            continue
        text = m.describe(context)
        if text is not None:
            found.append((m, text))
    return found


# ---------------------------------------------------------------------------- declarations


@measure(
    "tenant-isole",
    "Tenant de crise isolé",
    "crisiskit.inventory.models:Tenant",
    "crisiskit.plan.desired:tag_property",
)
def _isolated_tenant(ctx: MeasureContext) -> str:
    return (
        f"Les comptes et espaces de crise sont créés dans un tenant Microsoft 365 dédié "
        f"(« {ctx.inventory.tenant.display_name} »), distinct des systèmes d'information de la "
        "commune et de la Métropole. crisiskit étiquette chaque objet qu'il crée (extension "
        "d'annuaire crisiskitCommune) et ne modifie ni ne supprime jamais un objet qui ne porte "
        "pas l'étiquette de la commune."
    )


@measure(
    "tap",
    "Première connexion par code d'accès temporaire",
    "crisiskit.resources.taps:issue",
    "crisiskit.resources.users:new_password",
    "crisiskit.playbooks:Tap",
)
def _temporary_access_pass(ctx: MeasureContext) -> str | None:
    if not ctx.playbooks:
        return None
    lifetimes = sorted({p.tap.lifetime_minutes for p in ctx.playbooks})
    span = duration(lifetimes[0]) if len(lifetimes) == 1 else (
        f"{duration(lifetimes[0])} à {duration(lifetimes[-1])} selon le playbook"
    )
    once = {p.tap.usable_once for p in ctx.playbooks}
    use = ("à usage unique" if once == {True} else "utilisable pendant sa validité"
           if once == {False} else "à usage unique ou non selon le playbook")
    return (
        f"Chaque titulaire se connecte la première fois avec un code d'accès temporaire "
        f"(Temporary Access Pass) valable {span}, {use}, remis en main propre. Le mot de passe "
        "du compte est aléatoire (24 caractères) et n'est jamais communiqué ni affiché."
    )


@measure(
    "mfa-telephone",
    "Authentification forte sur le téléphone prêté",
    "crisiskit.resources.phones:PhoneCreate",
    "crisiskit.playbooks:Playbook",
)
def _mfa_phone(ctx: MeasureContext) -> str | None:
    if not any(p.register_phone and p.devices.phones for p in ctx.playbooks):
        return None
    return (
        "Le numéro du téléphone prêté par la Métropole est enregistré comme méthode "
        "d'authentification forte du compte de son titulaire, qui y enregistre l'application "
        "Microsoft Authenticator lors de sa première connexion."
    )


@measure(
    "journal-chaine",
    "Journal d'audit chaîné",
    "crisiskit.state.audit:entry_hash",
    "crisiskit.state.audit:verify_chain",
)
def _audit_chain(ctx: MeasureContext) -> str:
    return (
        "Chaque étape et chaque écriture dans le tenant est journalisée (date, opérateur, "
        "commune, action, cible, résultat, identifiant de requête) dans un journal chaîné par "
        "empreintes SHA-256 : toute modification, insertion ou suppression d'une entrée est "
        "détectée (crisiskit audit verify). L'empreinte du journal à la remise est imprimée sur "
        "la fiche de remise signée."
    )


@measure(
    "secrets-masques",
    "Secrets jamais journalisés",
    "crisiskit.secrets:Secret",
    "crisiskit.state.audit:ensure_no_secret",
)
def _masked_secrets(ctx: MeasureContext) -> str:
    return (
        "Les codes d'accès et jetons sont des valeurs masquées par construction : ils "
        "n'apparaissent ni dans les journaux, ni dans le journal d'audit, ni dans la base "
        "d'état, ni dans les messages d'erreur."
    )


@measure(
    "fichiers-proteges",
    "Fichiers d'identifiants lisibles par l'opérateur seul",
    "crisiskit.documents.credentials:write_credentials",
    "crisiskit.documents.credentials:FILE_MODE",
    "crisiskit.documents.slips:write_signin_slips",
    "crisiskit.documents.slips:SLIPS_MODE",
    "crisiskit.state.files:atomic_write",
)
def _protected_files(ctx: MeasureContext) -> str:
    from crisiskit.documents.credentials import FILE_MODE
    from crisiskit.documents.slips import SLIPS_MODE

    modes = sorted({f"{FILE_MODE:04o}", f"{SLIPS_MODE:04o}"})
    return (
        "Les seuls fichiers qui contiennent des codes d'accès (fichier d'identifiants et fiches "
        f"de première connexion) sont créés avec le mode {' et '.join(modes)} (lisibles par "
        "leur seul propriétaire) dès leur premier octet, remplacés de façon atomique et jamais "
        "écrits à travers un lien symbolique ; ils sont remis en main propre, jamais par "
        "messagerie."
    )


@measure(
    "verrou-commune",
    "Une seule opération à la fois par commune",
    "crisiskit.state.lock:commune_lock",
)
def _commune_lock(ctx: MeasureContext) -> str:
    return (
        "Un verrou par commune empêche deux opérateurs d'agir en même temps sur le kit d'une "
        "même commune ; il est libéré même si le processus est interrompu."
    )


@measure(
    "bail-tenant",
    "Une seule opération à la fois par commune, d'un poste à l'autre",
    "crisiskit.engine.tenantlock:TenantLock",
    "crisiskit.engine.lease:TenantLease",
    "crisiskit.engine.lease:TTL_S",
    "crisiskit.engine.handover:void_passes",
)
def _tenant_lease(ctx: MeasureContext) -> str:
    from crisiskit.engine.lease import TTL_S

    return (
        "Toute opération qui modifie le kit d'une commune prend d'abord un bail dans le tenant "
        "lui-même (un petit fichier du site SharePoint racine, créé seulement s'il n'existe "
        "pas, puis renouvelé et libéré de façon conditionnelle) : deux opérateurs sur deux "
        "postes différents ne peuvent pas agir en même temps sur la même commune, et le "
        "second apprend qui tient la commune, depuis quand. Le bail d'un poste arrêté expire "
        f"de lui-même ({duration(round(TTL_S // 60))} par défaut, jugés sur l'horloge du "
        "service) ; une opération qui a perdu son bail cesse d'écrire et les codes d'accès "
        "qu'elle avait émis sont retirés de son fichier d'identifiants, jamais présentés "
        "comme valables."
    )


@measure(
    "signature-pdf",
    "Documents signés électroniquement",
    "crisiskit.documents.sign:load_signer",
)
def _signed_documents(ctx: MeasureContext) -> str:
    return (
        "Les documents PDF établis par crisiskit (fiche de remise, convention, registre) "
        "peuvent être signés électroniquement (signature PAdES) avec le certificat de la "
        "Métropole."
    )


@measure(
    "depart-cellule",
    "Accès retiré au départ d'un membre de la cellule",
    "crisiskit.plan.leavers:leaving",
    "crisiskit.resources.users:revoke_request",
    "crisiskit.resources.taps:TapTarget",
    "crisiskit.resources.loans:LoanReturn",
)
def _leavers(ctx: MeasureContext) -> str:
    return (
        "Une personne retirée de la liste de la cellule de crise perd ses accès à l'activation "
        "suivante : son compte est désactivé, ses sessions de connexion sont révoquées, son "
        "code d'accès temporaire est supprimé et le matériel qui lui était prêté est repris "
        "pour réinitialisation. Le compte n'est pas supprimé avant la fin du service (ses "
        "courriels et fichiers appartiennent à la commune). Seuls les comptes créés par "
        "crisiskit pour la commune, et consignés dans son journal, sont concernés."
    )


@measure(
    "renouvellement-code",
    "Renouvellement d'un code d'accès compromis ou perdu",
    "crisiskit.engine.reissue:reissue",
    "crisiskit.plan.reissue:reissue_plan",
)
def _reissue(ctx: MeasureContext) -> str:
    return (
        "Un code d'accès temporaire perdu ou compromis est remplacé à la demande : l'ancien "
        "code est supprimé avant l'émission du nouveau, qui est remis dans un nouveau fichier "
        "lisible par l'opérateur seul et sur une fiche de connexion nominative ; l'opération "
        "est journalisée."
    )


@measure(
    "export-controle",
    "Restitution des données par un export contrôlé par empreintes",
    "crisiskit.export.manifest:write_manifest",
    "crisiskit.export.manifest:verify",
    "crisiskit.export.sink:FILE_MODE",
    "crisiskit.plan.teardown:teardown_plan",
)
def _checksummed_exports(ctx: MeasureContext) -> str:
    from crisiskit.export.sink import FILE_MODE

    return (
        "À la fin du service, les données produites par la commune (messagerie, espaces "
        "OneDrive et documents de l'équipe, conversations du groupe, calendriers, contacts, "
        "canaux Teams) lui sont restituées dans un export décrit fichier par fichier "
        "(manifest.json : taille, empreinte SHA-256, identifiant d'origine) et vérifiable par "
        "des outils standards (SHA256SUMS) ; chaque fichier téléchargé est contrôlé par "
        "l'empreinte que fournit Microsoft, et l'export est relu en entier avant toute "
        f"suppression. Ses fichiers sont créés avec le mode {FILE_MODE:04o}."
    )


@measure(
    "fin-de-service",
    "Suppression du seul kit de crise, attestée",
    "crisiskit.plan.scope:observe_scope",
    "crisiskit.resources.recycle:purge",
    "crisiskit.engine.attest:attestation_of",
)
def _teardown(ctx: MeasureContext) -> str:
    return (
        "La fin du service gèle d'abord les comptes (désactivation, révocation des sessions, "
        "retrait des codes d'accès), puis ne supprime que les objets que crisiskit a créés pour "
        "la commune et qui portent son étiquette, chaque suppression étant confirmée par des "
        "lectures concordantes ; les comptes supprimés peuvent être purgés définitivement, et ce "
        "que le service conserve (30 jours au plus) est indiqué. Une attestation de fin de "
        "service (exports, suppressions, matériel repris, empreinte du journal d'audit) est "
        "établie pour la commune et la Métropole."
    )
