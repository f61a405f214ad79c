"""The inventory and customer-update slices of the commercetools GraphQL schema (names and types as
in the public SDL, commercetools/commercetools-api-reference `api-specs/graphql/schema.sdl`, and the
2018-07-11 and 2022-03-11 release notes). Everything else in the real schema is absent here (for
customers: addresses, stores, customer groups, `storeKey`), so a document naming it fails validation
as an unknown field would."""

SDL = '''
scalar Long
scalar DateTime
scalar Json
scalar Date
scalar Locale

type Reference { typeId: String! id: String! }

type Initiator { isPlatformClient: Boolean clientId: String }

type RawCustomField { name: String! value: Json! }

type CustomFieldsType {
  typeRef: Reference!
  customFieldsRaw(includeNames: [String!], excludeNames: [String!]): [RawCustomField!]
}

type InventoryEntry {
  id: String!
  version: Long!
  key: String
  sku: String!
  quantityOnStock: Long!
  availableQuantity: Long!
  restockableInDays: Int
  expectedDelivery: DateTime
  supplyChannelRef: Reference
  custom: CustomFieldsType
  createdAt: DateTime!
  lastModifiedAt: DateTime!
  createdBy: Initiator
  lastModifiedBy: Initiator
}

type InventoryEntryQueryResult { offset: Int! count: Int! total: Long! results: [InventoryEntry!]! }

input ResourceIdentifierInput { typeId: String id: String key: String }
input CustomFieldInput { name: String! value: String! }
input CustomFieldsDraft { typeId: String typeKey: String type: ResourceIdentifierInput fields: [CustomFieldInput!] }

input InventoryEntryDraft {
  sku: String!
  key: String
  quantityOnStock: Long
  restockableInDays: Int
  expectedDelivery: DateTime
  supplyChannel: ResourceIdentifierInput
  custom: CustomFieldsDraft
}

input AddInventoryEntryQuantity { quantity: Long! }
input RemoveInventoryEntryQuantity { quantity: Long! }
input ChangeInventoryEntryQuantity { quantity: Long! }
input SetInventoryEntryRestockableInDays { restockableInDays: Int }
input SetInventoryEntryExpectedDelivery { expectedDelivery: DateTime }
input SetInventoryEntrySupplyChannel { supplyChannel: ResourceIdentifierInput }
input SetInventoryEntryCustomField { name: String! value: String }
input SetInventoryEntryCustomType {
  typeId: String typeKey: String type: ResourceIdentifierInput fields: [CustomFieldInput!]
}

input InventoryEntryUpdateAction {
  addQuantity: AddInventoryEntryQuantity
  changeQuantity: ChangeInventoryEntryQuantity
  removeQuantity: RemoveInventoryEntryQuantity
  setRestockableInDays: SetInventoryEntryRestockableInDays
  setExpectedDelivery: SetInventoryEntryExpectedDelivery
  setSupplyChannel: SetInventoryEntrySupplyChannel
  setCustomType: SetInventoryEntryCustomType
  setCustomField: SetInventoryEntryCustomField
}

type Customer {
  id: String!
  version: Long!
  key: String
  customerNumber: String
  externalId: String
  email: String!
  firstName: String
  lastName: String
  middleName: String
  title: String
  salutation: String
  dateOfBirth: Date
  companyName: String
  vatId: String
  locale: Locale
  isEmailVerified: Boolean!
  custom: CustomFieldsType
  createdAt: DateTime!
  lastModifiedAt: DateTime!
  createdBy: Initiator
  lastModifiedBy: Initiator
}

input ChangeCustomerEmail { email: String! }
input SetCustomerFirstName { firstName: String }
input SetCustomerLastName { lastName: String }
input SetCustomerMiddleName { middleName: String }
input SetCustomerTitle { title: String }
input SetCustomerSalutation { salutation: String }
input SetCustomerDateOfBirth { dateOfBirth: Date }
input SetCustomerCompanyName { companyName: String }
input SetCustomerVatId { vatId: String }
input SetCustomerLocale { locale: Locale }
input SetCustomerExternalId { externalId: String }
input SetCustomerKey { key: String }
input SetCustomerNumber { customerNumber: String }
input SetCustomerCustomField { name: String! value: String }
input SetCustomerCustomType { fields: [CustomFieldInput!] type: ResourceIdentifierInput typeKey: String typeId: String }

input CustomerUpdateAction {
  changeEmail: ChangeCustomerEmail
  setCompanyName: SetCustomerCompanyName
  setCustomField: SetCustomerCustomField
  setCustomType: SetCustomerCustomType
  setKey: SetCustomerKey
  setLocale: SetCustomerLocale
  setCustomerNumber: SetCustomerNumber
  setDateOfBirth: SetCustomerDateOfBirth
  setExternalId: SetCustomerExternalId
  setFirstName: SetCustomerFirstName
  setLastName: SetCustomerLastName
  setMiddleName: SetCustomerMiddleName
  setSalutation: SetCustomerSalutation
  setTitle: SetCustomerTitle
  setVatId: SetCustomerVatId
}

type Query {
  inventoryEntry(id: String, key: String): InventoryEntry
  inventoryEntries(where: String, sort: [String!], limit: Int, offset: Int): InventoryEntryQueryResult!
}

type Mutation {
  createInventoryEntry(draft: InventoryEntryDraft!): InventoryEntry
  updateInventoryEntry(id: String, key: String, version: Long!, actions: [InventoryEntryUpdateAction!]!): InventoryEntry
  updateCustomer(version: Long!, actions: [CustomerUpdateAction!]!, id: String, key: String): Customer
}
'''
